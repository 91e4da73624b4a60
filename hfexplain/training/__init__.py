"""Training: TrainingArguments, Trainer, callbacks and data collators (transformers' names).

>>> from hfexplain.training import Trainer, TrainingArguments                 # doctest: +SKIP
>>> args = TrainingArguments("out", max_steps=100, learning_rate=1e-3)           # doctest: +SKIP
>>> Trainer(model, args, train_dataset=train, processing_class=tokenizer).train()  # doctest: +SKIP

Read ``trainer.py`` top to bottom: the loop, checkpoints that are written atomically and
resume bit for bit, and DistributedDataParallel under ``torchrun``.
"""
from .arguments import TrainingArguments
from .callbacks import (
    CallbackHandler,
    DefaultFlowCallback,
    EarlyStoppingCallback,
    ProgressCallback,
    TrainerCallback,
    TrainerControl,
    TrainerState,
)
from .collators import (
    DataCollatorForLanguageModeling,
    DataCollatorForSeq2Seq,
    DataCollatorForTokenClassification,
    DataCollatorWithPadding,
    default_data_collator,
)
from .trainer import (
    EvalPrediction,
    PredictionOutput,
    Trainer,
    TrainOutput,
    get_last_checkpoint,
    set_seed,
)
from .schedules import (
    get_constant_schedule,
    get_constant_schedule_with_warmup,
    get_cosine_schedule_with_warmup,
    get_cosine_with_hard_restarts_schedule_with_warmup,
    get_linear_schedule_with_warmup,
    get_polynomial_decay_schedule_with_warmup,
    get_scheduler,
)

__all__ = [
    "CallbackHandler",
    "DataCollatorForLanguageModeling",
    "DataCollatorForSeq2Seq",
    "DataCollatorForTokenClassification",
    "DataCollatorWithPadding",
    "DefaultFlowCallback",
    "EarlyStoppingCallback",
    "EvalPrediction",
    "PredictionOutput",
    "ProgressCallback",
    "TrainOutput",
    "Trainer",
    "TrainerCallback",
    "TrainerControl",
    "TrainerState",
    "TrainingArguments",
    "default_data_collator",
    "get_constant_schedule",
    "get_constant_schedule_with_warmup",
    "get_cosine_schedule_with_warmup",
    "get_cosine_with_hard_restarts_schedule_with_warmup",
    "get_last_checkpoint",
    "get_linear_schedule_with_warmup",
    "get_polynomial_decay_schedule_with_warmup",
    "get_scheduler",
    "set_seed",
]

"""The training loop, readable in one file: the DeepLab recipe from v1 to v3+.

What one iteration does (v1, ICLR 2015, §5; v2, TPAMI 2017, §4.1; v3, §4.1):

1. take ``batch_size`` random crops (scale in ``config.scale``, ``crop_size`` = output_stride·k+1,
   random flip), drawn reproducibly (``sampling``);
2. take the pixel-wise cross-entropy, skipping label 255 (``losses``): v1/v2's downsampled labels
   or v3's upsampled scores, summed over MSC scales, plus v3's auxiliary head (``outputs``);
3. step SGD (momentum 0.9, weight decay) over the release's parameter groups (the head at
   ``head_lr_mult`` × the rate: v1, v2: 10× on fc8; v3, v3+: one rate for all), on v1's step or
   the poly schedule (``schedules``); BatchNorm averages at ``bn_momentum`` (``engine.batchnorm``).

Around it: bf16 autocast and channels-last memory on GPUs, optional ``torch.compile``, gradient
accumulation, frozen or synchronised BatchNorm, DDP under torchrun (``distributed``), a CSV log
(``log``), the val mIoU every ``validate_every`` steps (``val.csv``), atomic checkpoints of finite
weights only (``checkpoint``), the resume rule (``run_dir``), and a clean stop on Ctrl-C / SIGTERM
(``stop``) or a NaN loss.
"""

from __future__ import annotations

import dataclasses
import time
from contextlib import nullcontext
from pathlib import Path

import torch

from deeplab_edu import distributed as ddp
from deeplab_edu.checkpoint import read_checkpoint, save_checkpoint, load_checkpoint
from deeplab_edu.datasets import TrainTransform, build_dataset
from deeplab_edu.datasets.transforms import rgb_from_normalized
from deeplab_edu.engine import log as run_log
from deeplab_edu.engine.batchnorm import set_batchnorm_momentum
from deeplab_edu.engine.config import TrainConfig
from deeplab_edu.engine.losses import training_loss
from deeplab_edu.engine.outputs import TrainingScores
from deeplab_edu.engine.run_dir import check_fresh, check_resume, data_identity, extend_schedule
from deeplab_edu.engine.run_lock import hold_run_folder
from deeplab_edu.engine.sampling import DrawSampler, SeededAugmentation
from deeplab_edu.engine.stop import StopRequest
from deeplab_edu.errors import TrainingDiverged, TrainingInterrupted, UserError
from deeplab_edu.models import build_from_config
from deeplab_edu.runtime import resolve_device, seed_everything
from deeplab_edu.schedules import make_optimizer, make_scheduler
from deeplab_edu.weights import check_compatible, load_pretrained


@dataclasses.dataclass
class TrainResult:
    model: torch.nn.Module
    history: list[dict]
    checkpoint: Path | None
    seconds: float  # the run's training time over every session, resumed ones included
    device: str
    iterations: int  # the iteration the run reached
    num_classes: int
    class_names: tuple[str, ...]
    start_iteration: int = 0  # where this session began (> 0: resumed from a checkpoint)
    validation: list[dict] = dataclasses.field(default_factory=list)  # val.csv's rows: step, mIoU, pixel_acc


def open_dataset(config: TrainConfig, split: str, transform=None):
    """``build_dataset``, with a missing VOC folder explained rather than just reported."""
    try:
        return build_dataset(config.dataset, split, transform=transform, root=config.data_root,
                             progress=config.progress)
    except FileNotFoundError as err:
        if config.dataset in ("voc", "voc_aug"):
            raise FileNotFoundError(f"{err}. To get PASCAL VOC 2012 (and SBD for voc_aug) read data/README.md "
                                    "and set DEEPLAB_EDU_VOC; or train on the offline built-in set "
                                    "with dataset='builtin' (--dataset builtin)") from err
        raise


def _autocast(device: torch.device, amp: str):
    use_bf16 = amp == "bf16" or (amp == "auto" and device.type == "cuda")
    return torch.autocast(device.type, dtype=torch.bfloat16) if use_bf16 else nullcontext()


def _set_train_mode(model: torch.nn.Module, batchnorm: str) -> None:
    model.train()
    if batchnorm == "frozen":
        ddp.freeze_batchnorm(model)


def batch_loss(net: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, kind: str,
               aux_weight: float = 0.0) -> torch.Tensor:
    """Loss of one batch through ``net`` (a ``TrainingScores``, possibly DDP-wrapped)."""
    return training_loss(net(images), labels, kind, aux_weight)


def forward_backward(net: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, kind: str,
                     amp: str = "auto", channels_last: bool = False, scale: float = 1.0,
                     aux_weight: float = 0.0) -> torch.Tensor:
    """One pass of a training step (what ``benchmarks/bench_train.py`` times): bf16 forward (on CUDA,
    or ``amp="bf16"``), the loss in float32 times ``scale`` (1/accumulate), back-propagated; returns it detached."""
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    with _autocast(images.device, amp):
        loss = batch_loss(net, images, labels, kind, aux_weight) * scale
    loss.backward()
    return loss.detach()


def validation_row(model: torch.nn.Module, dataset, step: int, batchnorm: str, device: torch.device) -> dict:
    """The val mIoU of ``model`` now, leaving the training's random streams and BatchNorm mode as they were."""
    from deeplab_edu.engine.evaluation import evaluate

    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        scores = evaluate(model, dataset, trimap_widths=(), device=device, progress=False).summary()
    _set_train_mode(model, batchnorm)
    return {"step": step, "mIoU": scores["mIoU"], "pixel_acc": scores["pixel_acc"]}


def finite_weights(model: torch.nn.Module) -> bool:
    """Whether every parameter and buffer is finite: the condition for a checkpoint to be good."""
    return all(bool(torch.isfinite(t).all()) for t in model.state_dict().values() if t.is_floating_point())


def _check_batch(model: torch.nn.Module, config: TrainConfig, micro: int) -> None:
    stride = getattr(model, "output_stride", None) or config.output_stride
    if stride and config.crop_size < stride + 1:
        raise UserError(f"crop_size {config.crop_size} is smaller than output_stride + 1 = {stride + 1}: "
                        f"the score map would be empty; use a crop of output_stride·k+1 pixels, e.g. {4 * stride + 1}")
    if micro == 1 and config.batchnorm == "train" and getattr(model, "global_context", False):
        raise UserError(f"{config.model}'s image-pooling branch has one value per channel at a batch of 1 "
                        "image per pass, which BatchNorm cannot normalise in training; use a batch of at "
                        "least 2 per pass (batch_size / accumulate / processes) or batchnorm='frozen' "
                        "(--batchnorm frozen)")


def _last_good(path: Path | None) -> str:
    return f"the last good checkpoint is {path}" if path else "no checkpoint was written yet"


def _stop_agreed(request: StopRequest, env: ddp.DistEnv, device: torch.device) -> bool:
    """Whether any process received a stop signal (all processes must stop at the same step)."""
    flag = request.signal is not None
    if not env.is_distributed:
        return flag
    value = torch.tensor(float(flag), device=device)
    torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MAX)
    return bool(value.item())


def build_training_model(config: TrainConfig, num_classes: int, device: torch.device) -> tuple[torch.nn.Module, dict]:
    """The model ``config`` describes, with its starting weights (ImageNet and / or ``init_from``)."""
    model_config = config.model_config(num_classes)
    model = build_from_config(model_config, rgb_from_normalized)
    if config.bn_momentum is not None:  # TF's decay 0.9997 is momentum 0.0003 (v3 §4.1)
        set_batchnorm_momentum(model, config.bn_momentum)
    inner = model.model if config.crf_rnn is not None else model  # the network under CRF-as-RNN
    if config.pretrained:
        load_pretrained(inner, config.pretrained)
    if config.init_from:
        state = read_checkpoint(config.init_from)["model"]
        check_compatible(inner, state, what=f"init_from checkpoint {config.init_from}")
        inner.load_state_dict(state, strict=True)
    return model, model_config


def train(config: TrainConfig) -> TrainResult:
    """Train as ``config`` says; return the model, the logged history and the last checkpoint.

    A run folder that holds a checkpoint is resumed (``run_dir``); one process at a time trains
    there (``run_lock``). Under torchrun every process runs this and rank 0 writes. Raises
    ``TrainingDiverged`` naming the step and the last good checkpoint when the loss or the weights
    stop being finite, and ``TrainingInterrupted`` after saving on SIGINT / SIGTERM.
    """
    config.validate()
    with hold_run_folder(config.out_dir, writer=ddp.env_from_torchrun().is_main):
        return _train(config)


def _train(config: TrainConfig) -> TrainResult:
    config = config.resolved()
    device = resolve_device(config.device)
    env = ddp.setup(device.type)
    device = ddp.device_for(env, device)
    seed_everything(config.seed)
    out = Path(config.out_dir)
    ckpt_path, log_path, val_path = out / "checkpoint.pt", out / "log.csv", out / "val.csv"

    resume_state = None
    if ckpt_path.is_file() and not config.overwrite:
        resume_state = read_checkpoint(ckpt_path, map_location="cpu")
        check_resume(ckpt_path, resume_state, config)
    elif not config.overwrite:
        check_fresh(out)
    ddp.barrier(env)  # every process has looked at the folder before rank 0 writes to it

    transform = TrainTransform(config.crop_size, scale=tuple(config.scale))
    dataset = open_dataset(config, "train", transform)
    model, model_config = build_training_model(config, dataset.num_classes, device)
    if config.batchnorm == "sync":
        model = ddp.convert_sync_batchnorm(model, device)
    model.to(device)
    channels_last = device.type == "cuda" if config.channels_last is None else config.channels_last
    if channels_last:
        model.to(memory_format=torch.channels_last)

    optimizer = make_optimizer(model, config.lr, config.momentum, config.weight_decay, config.head_lr_mult,
                               head_layers=config.head_layers, **config.optimizer_groups())
    scheduler = make_scheduler(optimizer, config.schedule, config.iterations, config.power,
                               config.step_size, config.gamma)
    start, elapsed_before = 0, 0.0
    if resume_state is not None:
        state = load_checkpoint(ckpt_path, model, optimizer, scheduler, model_config=model_config,
                                restore_rng=True, map_location=device)
        start = state["iteration"]
        elapsed_before = float(state["extra"].get("elapsed_s", 0.0))
        extend_schedule(scheduler, optimizer, config, start)
        if env.is_main:
            if start >= config.iterations:  # a finished run: say so, a recorded chapter reads it later
                print(f"{ckpt_path}: this run finished earlier ({start} iterations, {elapsed_before:.0f} s of "
                      "training); its weights are loaded, not trained again")
            else:
                print(f"resuming {ckpt_path} at iteration {start} of {config.iterations}")

    net: torch.nn.Module = TrainingScores(model)
    if config.compile:
        net = torch.compile(net)
    net = ddp.wrap_model(net, env, device)

    stop = min(config.stop_at or config.iterations, config.iterations)
    share = ddp.per_process_batch(config.batch_size, env)
    if share % config.accumulate:
        raise ValueError(f"each process's batch ({share}) must be divisible by accumulate ({config.accumulate})")
    micro = share // config.accumulate
    _check_batch(model, config, micro)
    loader = torch.utils.data.DataLoader(
        SeededAugmentation(dataset, transform, config.seed), batch_size=micro,
        sampler=DrawSampler(len(dataset), config.seed, start, stop, config.batch_size, env),
        num_workers=config.num_workers, pin_memory=device.type == "cuda",
        # Its own generator: creating the iterator would otherwise draw from the global RNG,
        # after a resume's restore but before a straight run's first step.
        generator=torch.Generator().manual_seed(config.seed), drop_last=False)

    history = run_log.read_rows(log_path, start) if start else []
    if env.is_main:
        run_log.rewrite(log_path, history)
    val_set = open_dataset(config, "val") if config.validate_every else None
    validation = run_log.read_rows(val_path, start, run_log.VAL_FIELDS) if start and val_set is not None else []
    if env.is_main and val_set is not None:
        run_log.rewrite(val_path, validation, run_log.VAL_FIELDS)
    last_good = ckpt_path if start else None
    extra = {"config": config.to_json(), "class_names": list(dataset.class_names)}
    if data_identity(config) is not None:
        extra["data"] = data_identity(config)

    def save(done: int, elapsed: float) -> None:
        nonlocal last_good
        if not finite_weights(model):
            raise TrainingDiverged(f"the weights are not finite after step {done}; not saved — "
                                   f"{_last_good(last_good)}. Lower the learning rate (--lr) or the weight decay "
                                   "(--weight-decay).")
        if env.is_main:
            save_checkpoint(ckpt_path, model, optimizer, scheduler, done, model_config,
                            extra={**extra, "elapsed_s": elapsed})
        ddp.barrier(env)
        last_good = ckpt_path

    _set_train_mode(model, config.batchnorm)
    from deeplab_edu.progress import tqdm
    bar = tqdm(total=stop - start, desc=f"training {config.model}", disable=not (config.progress and env.is_main))
    t_start = t_window = time.perf_counter()
    images_in_window = 0
    batches = iter(loader)
    done = start
    with StopRequest() as request:
        for step in range(start, stop):
            optimizer.zero_grad(set_to_none=True)
            total = torch.zeros((), device=device)
            for pass_ in range(config.accumulate):
                images, labels = next(batches)
                images = images.to(device, non_blocking=True)
                labels = labels.to(device, non_blocking=True)
                # DDP averages gradients at the last pass only; the earlier ones accumulate locally.
                sync = nullcontext() if pass_ == config.accumulate - 1 or not env.is_distributed else net.no_sync()
                with sync:
                    total += forward_backward(net, images, labels, config.loss, config.amp, channels_last,
                                              1 / config.accumulate, config.aux_weight)
            total = ddp.mean_over_processes(total, env)
            if not torch.isfinite(total):
                bar.close()
                raise TrainingDiverged(f"the loss became {total.item()} at step {step + 1}; training stopped — "
                                       f"{_last_good(last_good)}. Lower the learning rate (--lr) or the weight decay "
                                       "(--weight-decay), or check the labels (255 = ignore).")
            lrs = [group["lr"] for group in optimizer.param_groups]  # the rates this step used
            if config.clip_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad_norm)
            optimizer.step()
            scheduler.step()
            images_in_window += config.batch_size
            done = step + 1
            now = time.perf_counter()

            if done % config.log_every == 0 or done == stop:
                row = {"step": done, "loss": total.item(), "lr_backbone": lrs[0], "lr_head": lrs[1],
                       "images_per_s": images_in_window / max(now - t_window, 1e-9),
                       "elapsed_s": elapsed_before + now - t_start}
                history.append(row)
                t_window, images_in_window = now, 0
                if env.is_main:
                    run_log.append(log_path, row)
                bar.set_postfix(loss=f"{row['loss']:.3f}", lr=f"{row['lr_backbone']:.2e}",
                                img_s=f"{row['images_per_s']:.1f}")
            if val_set is not None and (done % config.validate_every == 0 or done == config.iterations):
                paused = time.perf_counter()
                if env.is_main:
                    validation.append(validation_row(model, val_set, done, config.batchnorm, device))
                    run_log.append(val_path, validation[-1], run_log.VAL_FIELDS)
                ddp.barrier(env)
                # The clocks skip the validation: the training time and throughput stay the training's.
                spent = time.perf_counter() - paused
                t_start, t_window = t_start + spent, t_window + spent
                now = time.perf_counter()
            interrupted = _stop_agreed(request, env, device)
            if done % config.checkpoint_interval == 0 or done == stop or interrupted:
                save(done, elapsed_before + now - t_start)
            bar.update(1)
            if interrupted:
                bar.close()
                raise TrainingInterrupted(
                    f"{request.signal or 'a stop signal'} received: stopped at iteration {done} of "
                    f"{config.iterations}, checkpoint {ckpt_path}; run the same command again (or train() "
                    f"with the same config) to resume")
    bar.close()
    seconds = elapsed_before + time.perf_counter() - t_start
    model.eval()
    return TrainResult(model=model, history=[{k: float(v) for k, v in r.items()} for r in history],
                       checkpoint=last_good, seconds=seconds, device=str(device), iterations=max(stop, start),
                       num_classes=dataset.num_classes, class_names=tuple(dataset.class_names),
                       start_iteration=start, validation=validation)

"""Try an intervention as a user: a task's scripted expert runs, a simulated operator takes
over at scheduled times through a retargeting method, and you get a video with the mode
on screen plus the recorded episode.

    MUJOCO_GL=egl python scripts/intervene.py --task Reach --method relative \
        --operator operator_a --seed 0 --out runs/intervene

Writes ``<out>/episode_000000.h5`` (the D_corr episode, see handitl.intervention.recorder)
and ``<out>/rollout.mp4`` (``pip install "handitl[video]"``) or ``rollout.gif``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from handitl.envs import make_env, registered_tasks  # noqa: E402
from handitl.experiments.wiring import intervention_wrapper, make_policy  # noqa: E402
from handitl.intervention.modes import Interval, Mode, ScheduledModes  # noqa: E402
from handitl.intervention.recorder import EpisodeRecorder  # noqa: E402
from handitl.intervention.streams import GestureScript, ScriptedOperator, get_profile  # noqa: E402
from handitl.retarget import METHODS  # noqa: E402

MODE_COLOURS = {Mode.AUTONOMOUS: (40, 160, 60), Mode.TAKEOVER: (200, 50, 40), Mode.COPILOT: (40, 90, 200)}


def schedule(rng: np.random.Generator, duration: float) -> list[Interval]:
    """Three takeovers of 0.6-1.2 s at random times, then a copilot segment."""
    starts = np.sort(rng.uniform(0.5, duration - 2.5, size=3))
    starts = starts + np.arange(3) * 0.2  # keep them apart
    out = [Interval(float(s), float(s + rng.uniform(0.6, 1.2)), Mode.TAKEOVER) for s in starts]
    last = out[-1].end + 0.3
    out.append(Interval(last, last + 1.0, Mode.COPILOT))
    return out


def annotate(frame: np.ndarray, mode: Mode, t: float, jump: float | None) -> Image.Image:
    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, image.width, 28], fill=MODE_COLOURS[mode])
    text = f"t = {t:5.2f} s   mode: {mode.name}"
    if jump is not None:
        text += f"   hand jump at engage: {jump:.2e} rad"
    draw.text((8, 8), text, fill=(255, 255, 255))
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="Reach", choices=registered_tasks())
    parser.add_argument("--method", default="relative", choices=sorted(METHODS))
    parser.add_argument("--operator", default="operator_a")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--out", type=Path, default=Path("runs/intervene"))
    parser.add_argument("--fps", type=int, default=25)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    env = make_env(args.task, terminate_on_success=False)
    rng = np.random.default_rng(args.seed)
    intervals = schedule(rng, args.seconds)
    operator = ScriptedOperator(get_profile(args.operator), GestureScript.of(
        ("relaxed", 2.0), ("power_grasp", 1.5), ("open", 1.5), ("pinch", 1.5), ("relaxed", 60.0)),
        seed=args.seed)  # fmt: skip
    recorder = EpisodeRecorder(args.out, {"task": args.task, "method": args.method,
                                          "operator": args.operator})  # fmt: skip
    wrapper = intervention_wrapper(env, args.method, operator, ScheduledModes(intervals),
                                   recorder=recorder)  # fmt: skip
    policy = make_policy(env)
    obs, _ = wrapper.reset(seed=args.seed)
    policy.reset()
    frames, jump = [], None
    every = max(1, round(1.0 / (args.fps * env.control_dt)))
    steps = int(args.seconds / env.control_dt)
    for k in range(steps):
        obs, reward, terminated, truncated, info = wrapper.step(policy(obs))
        record = info["intervention"]
        if record.engaged:
            jump = max(record.engage_jump.values())
            print(f"  t={env.data.time:5.2f} s engage {record.mode.name:8s} hand jump {jump:.2e} rad")
        if record.disengaged and record.mode is Mode.AUTONOMOUS:
            print(f"  t={env.data.time:5.2f} s release")
        if k % every == 0:
            try:
                frames.append(annotate(env.render_camera("third", 360, 480), record.mode,
                                       env.data.time, jump))  # fmt: skip
            except Exception as exc:  # no GL: keep the episode, skip the video
                print(f"  video skipped ({type(exc).__name__}: {exc})")
                every = steps + 1
        if terminated or truncated:
            break
    wrapper.close()
    print(f"episode written: {recorder.written[-1]}")
    if frames:
        _write_video(frames, args.out, args.fps)


def _write_video(frames: list[Image.Image], out: Path, fps: int) -> None:
    try:
        import imageio.v3 as iio

        path = out / "rollout.mp4"
        iio.imwrite(path, np.stack([np.asarray(f) for f in frames]), fps=fps, codec="libx264")
    except Exception:  # imageio-ffmpeg missing: an animated GIF needs nothing extra
        path = out / "rollout.gif"
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=int(1000 / fps), loop=0)
    print(f"video written: {path} ({len(frames)} frames)")


if __name__ == "__main__":
    main()

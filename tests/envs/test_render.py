"""Rendering works headless under EGL, and state-only use never needs GL."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import textwrap

import mujoco
import numpy as np
import pytest

from handitl.envs import make_env


@functools.lru_cache(maxsize=1)
def _gl_problem() -> str | None:
    """Why EGL rendering cannot work here, or None if it does (probed in a subprocess,
    because a broken GL stack can abort the interpreter)."""
    if os.environ.get("MUJOCO_GL", "egl") != "egl":
        return f"MUJOCO_GL={os.environ['MUJOCO_GL']}, not egl"
    code = ("import mujoco; m = mujoco.MjModel.from_xml_string('<mujoco/>'); "
            "r = mujoco.Renderer(m, 8, 8); r.render(); r.close()")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "MUJOCO_GL": "egl"})  # fmt: skip
    if proc.returncode != 0:
        return "no working EGL: " + (proc.stderr.strip().splitlines() or ["?"])[-1]
    return None


needs_gl = pytest.mark.skipif(_gl_problem() is not None, reason=str(_gl_problem()))


@needs_gl
def test_every_camera_renders_a_224_frame() -> None:
    """Each scene camera gives a 224x224 RGB uint8 frame with real content (not blank)."""
    env = make_env("Reach")
    env.reset(seed=0)
    assert set(env.camera_names) >= {"top", "bottom", "third"}
    for camera in env.camera_names:
        frame = env.render_camera(camera, 224, 224)
        assert frame.shape == (224, 224, 3) and frame.dtype == np.uint8
        assert frame.std() > 10.0, camera
    env.close()


@needs_gl
def test_image_observations_and_render_mode() -> None:
    """Requested cameras appear as uint8 images in observations (inside the space), and
    render_mode='rgb_array' renders the configured view."""
    env = make_env("Reach", image_cameras=("top", "third"), image_size=(96, 128),
                   render_mode="rgb_array")  # fmt: skip
    obs, _ = env.reset(seed=0)
    assert obs["images"]["top"].shape == (96, 128, 3)
    assert env.observation_space.contains(obs)
    obs, *_ = env.step(env.hold_action())
    assert env.observation_space.contains(obs)
    assert env.render().shape == (480, 640, 3)
    env.close()


def test_state_only_use_creates_no_renderer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without image cameras, reset/step/close never construct a mujoco.Renderer."""

    def forbidden(*args, **kwargs):
        raise AssertionError("a renderer was created during state-only use")

    monkeypatch.setattr(mujoco, "Renderer", forbidden)
    env = make_env("Reach")
    env.reset(seed=0)
    for _ in range(3):
        env.step(env.hold_action())
    assert env.render() is None  # no render_mode: nothing to render
    env.close()


def test_state_only_use_imports_no_gl() -> None:
    """With GL disabled (MUJOCO_GL=disable), importing handitl, making every env and
    stepping it works and loads no OpenGL/EGL module."""
    code = textwrap.dedent("""
        import sys, gymnasium as gym, handitl
        from handitl.envs import env_ids
        for env_id in env_ids():
            env = gym.make(env_id)
            env.reset(seed=0)
            for _ in range(3):
                env.step(env.unwrapped.hold_action())
            env.close()
        gl = sorted(m for m in sys.modules if m.split('.')[0] in ('OpenGL', 'glfw')
                    or m in ('mujoco.egl', 'mujoco.osmesa'))
        print('GL_MODULES', gl)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "MUJOCO_GL": "disable"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "GL_MODULES []" in proc.stdout, proc.stdout

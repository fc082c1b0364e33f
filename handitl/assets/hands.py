"""Hand registry: a name -> a builder of :class:`HandAsset` for either side.

Builders that need optional dependencies or data (the Shadow hand from
gymnasium-robotics, URDF hands) import them only when called.
"""

from __future__ import annotations

from pathlib import Path

from handitl.assets.hand_description import HandAsset, Side
from handitl.assets.scene import HandBuilder

_BUILDERS: dict[str, HandBuilder] = {}


def register_hand(name: str, builder: HandBuilder) -> None:
    """Make a hand available by name (e.g. to ``EnvConfig.hand``); names are unique."""
    if name in _BUILDERS:
        raise ValueError(f"hand {name!r} is already registered")
    _BUILDERS[name] = builder


def hand_names() -> tuple[str, ...]:
    return tuple(_BUILDERS)


def hand_builder(name: str) -> HandBuilder:
    """The builder registered under ``name``; raises ValueError naming the known hands."""
    try:
        return _BUILDERS[name]
    except KeyError:
        raise ValueError(f"unknown hand {name!r}; known hands: {', '.join(_BUILDERS)}") from None


def build_hand(name: str, side: Side) -> HandAsset:
    return hand_builder(name)(side)


def _procedural(side: Side) -> HandAsset:
    from handitl.assets.procedural_hand import build_procedural_hand

    return build_procedural_hand(side)


def _shadow(side: Side) -> HandAsset:
    from handitl.assets.shadow_hand import load_shadow_hand

    return load_shadow_hand(side)


def _urdf_dir() -> Path:
    from handitl.assets.urdf_hand import find_hand_urdf_dir

    folder = find_hand_urdf_dir()
    if folder is None or not folder.is_dir():
        raise FileNotFoundError(
            "URDF hands need their files: set HANDITL_HAND_URDF_DIR to the folder holding "
            f"leap_hand/ and allegro_hand/ (e.g. dex-urdf's robots/hands); got {folder}"
        )
    return folder


def _leap(side: Side) -> HandAsset:
    from handitl.assets.urdf_hand import LEAP_HAND, load_urdf_hand

    return load_urdf_hand(_urdf_dir() / LEAP_HAND.urdf_file, LEAP_HAND, side)


def _allegro(side: Side) -> HandAsset:
    from handitl.assets.urdf_hand import ALLEGRO_HAND, load_urdf_hand

    return load_urdf_hand(_urdf_dir() / ALLEGRO_HAND.urdf_file, ALLEGRO_HAND, side)


register_hand("procedural21", _procedural)
register_hand("shadow", _shadow)
register_hand("leap", _leap)
register_hand("allegro", _allegro)

"""Start one franka-sim FR3 server bound to one address (run in franka-sim's own venv).

franka-sim's command-line server binds every interface; a robot peer used in tests must
bind loopback only, so this launcher builds ``FrankaSimServer`` with an explicit host.
It imports nothing from handitl: franka-sim pins numpy 1.26 and mujoco < 3.3, so it
lives in a separate virtual environment (``scripts/setup_franka_sim.sh``).

Usage: ``<franka-sim venv>/bin/python franka_sim_launch.py --host 127.0.0.1`` with
``FR3_MJCF`` naming the arm model (``handitl.real.franka_peer.write_fr3_mjcf``).
"""

import argparse
import logging
import signal
import sys


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    if not args.host.startswith("127."):
        sys.exit("franka_sim_launch binds loopback addresses (127.x.x.x) only")
    logging.basicConfig(level=logging.WARNING)
    # The parent waits for these two INFO lines (listening, physics loop running).
    logging.getLogger("franka_sim.franka_sim_server").setLevel(logging.INFO)
    logging.getLogger("franka_sim.mujoco_franka_sim").setLevel(logging.INFO)
    from franka_sim import FrankaSimServer

    server = FrankaSimServer(host=args.host, enable_gripper=False)

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"franka-sim serving on {args.host}", flush=True)
    try:
        server.start()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()

"""``xray-heal``: the engine's commands (heal, mask, grid; :mod:`dip_engine.cli`) and the
dashboard's own: ``serve`` and ``worker``."""

from __future__ import annotations

import sys

from dip_engine import cli as engine


def build_parser():
    """The engine's parser with the dashboard's commands added."""
    parser = engine.build_parser()
    s = parser.commands.add_parser("serve", help="start the dashboard (XRAY_HEAL_HOST, XRAY_HEAL_PORT)")
    s.add_argument("--debug", action="store_true")
    w = parser.commands.add_parser("worker", help="run dashboard jobs on this machine's GPU "
                                                  "(Celery, XRAY_HEAL_BROKER)")
    w.add_argument("--concurrency", type=int, help="fits at once (default XRAY_HEAL_GPU_SLOTS)")
    return parser


def main(argv: list[str] | None = None) -> int:
    from .settings import Settings

    parser = build_parser()
    settings = Settings.from_env()  # XRAY_HEAL_MAX_PIXELS and XRAY_HEAL_THREADS for the engine's commands too
    for command in parser.commands.choices.values():
        command.set_defaults(max_pixels=settings.max_pixels, threads=settings.threads)
    args = parser.parse_args(argv)
    if args.command == "serve":
        from .app import run_server

        run_server(debug=args.debug)
        return 0
    if args.command == "worker":
        from .app import run_worker

        run_worker(args.concurrency)
        return 0
    return engine.run(args)


if __name__ == "__main__":
    sys.exit(main())

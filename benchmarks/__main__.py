"""Run the benchmarks: ``make bench`` or ``python -m benchmarks [name ...] [--option ...]``.

Each ``benchmarks/bench_<name>.py`` defines ``main(argv: list[str]) -> None`` and prints its figures.
They need PostgreSQL (``DATABASE_URL``); each works in a database of its own that it creates and drops.
"""
import importlib
import pkgutil
import sys
import time
from pathlib import Path


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name[len("bench_"):] for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))


def main(argv: list[str]) -> int:
    names = [a for a in argv if not a.startswith("-")] or available()
    options = [a for a in argv if a.startswith("-")]
    if "--help" in options or "-h" in options:
        print(__doc__)
        for name in names:
            module = importlib.import_module(f"benchmarks.bench_{name}")
            print(f"--- {name} ---\n{(module.__doc__ or '').strip()}\n")
        return 0
    unknown = [n for n in names if n not in available()]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available())}")
        return 2
    for name in names:
        print(f"=== {name} ===", flush=True)
        started = time.perf_counter()
        importlib.import_module(f"benchmarks.bench_{name}").main(options)
        print(f"=== {name} done in {time.perf_counter() - started:.1f} s ===\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""`drill estimate`: back-of-the-envelope numbers for the system-design round, as drills.

- `specs.py`: real model configs and accelerator datasheets, each with its source;
- `formulas.py`: every formula, typed, in one place;
- `units.py`: the quantities an answer can be (bytes, seconds, tokens/s...), parsed from
  what people type and worded back;
- `grading.py`: the tolerance bands;
- `topics.py`: one seeded generator per topic: a question, its answer, its derivation;
- `session.py`: the interactive session and the JSON forms;
- `cli.py`: the command (Typer only at import, for `drill --help`).

Nothing here imports torch or numpy.
"""

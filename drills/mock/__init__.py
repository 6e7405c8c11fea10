"""Mock interviews for two people: a candidate at the keyboard, an interviewer with a script.

Everything the two share lives in files inside the workspace (see `store`), so the two
sides can run in two terminals on one machine or on two machines that share the folder.
Importing this package is cheap: the Textual console is imported only by the command
that opens it.
"""

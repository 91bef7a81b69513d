"""Puts a markdown table into a results file between two markers.

    python3 loadtest/write_table.py RESULTS.md TABLE.md NAME

writes TABLE.md's text between "<!-- NAME:start -->" and "<!-- NAME:end -->",
appending both markers at the end of the file the first time, so each run
replaces only its own table.
"""
import sys

path, table_path, name = sys.argv[1], sys.argv[2], sys.argv[3]
table = open(table_path).read()
start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
text = open(path).read()
if start not in text:
    text += f"\n{start}\n{end}\n"
before, rest = text.split(start, 1)
_, after = rest.split(end, 1)
open(path, "w").write(f"{before}{start}\n{table}{end}{after}")

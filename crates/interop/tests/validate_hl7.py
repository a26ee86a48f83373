"""Validates HL7 v2 messages with hl7apy against the HL7 v2.6 message structures.

Usage: python validate_hl7.py FILE...   (each file holds one message, segments ended by CR)
Prints one line per file, "ok <file> <structure>" or "FAIL <file>: <reason>", and exits 1 if
any message fails. Validation is strict: required fields and segments, cardinalities, the
group structure of MSH-9.3, and data types are checked.
"""

import sys

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message


def main(paths):
    failed = 0
    for path in paths:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8").replace("\r\n", "\r").replace("\n", "\r")
        try:
            msg = parse_message(text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
            msg.validate()
            print(f"ok {path} {msg.msh.msh_9.to_er7()} version {msg.version}")
        except Exception as e:  # hl7apy raises several exception types; all mean "invalid"
            failed += 1
            print(f"FAIL {path}: {type(e).__name__}: {e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

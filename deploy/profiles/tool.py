"""An example tool for the python-tool profile: JSON arguments on stdin,
a JSON result on stdout, a non-zero exit and a JSON error on failure."""
import json
import sys


def main() -> int:
    try:
        args = json.load(sys.stdin)
        numbers = args["numbers"]
        result = {"sum": sum(numbers), "count": len(numbers)}
    except (ValueError, KeyError, TypeError) as e:
        json.dump({"error": str(e)}, sys.stdout)
        print()
        return 2
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Every xai command README.md shows, checked as written (issue 29, item 8).

- Every command (in code blocks and in `inline code`) must parse as a shell would read it: balanced quotes,
  no unquoted < or > (`--fail-if flagged>0` unquoted writes a file named 0 and passes "flagged" to xai),
  a subcommand that exists, and only options that subcommand's --help lists (a stale `--batch-size` where the
  option is `--probe-batch` fails here).
- The commands of the ```sh blocks are run as written, in a sandbox: the repository's build/xai, scripts/ and
  models/, the committed example patches, `/tmp/` mapped into the sandbox, and placeholders a reader would
  have (model.pt and its card, patch.png). The setup and test scripts themselves are left out (they are what
  runs this test).

Usage: readme_commands_test.py SOURCE_DIR XAI_BINARY
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

SYNOPSIS_MARKS = ("[", "...", "…", "OUT/", "IMAGE", "INPUT", "MODEL", "SLIDE")
NOT_RUN = ("scripts/setup.sh", "scripts/test.sh")


def readme_commands(text):
    """(command, where, fenced_language) for every xai command in README.md."""
    found = []
    # Fenced blocks: join continuation lines, drop comments and YAML list/`run: |` framing.
    for match in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
        language, body = match.group(1), match.group(2)
        line_no = text[: match.start()].count("\n") + 2
        joined = re.sub(r"\\\n\s*", " ", body)
        for offset, line in enumerate(joined.split("\n")):
            stripped = re.sub(r"^\s*(- )?", "", line)
            if language == "python":
                continue
            if re.match(r"(build/)?xai\s", stripped) or (language == "sh" and stripped and not stripped.startswith("#")):
                command = stripped.split("  #")[0].rstrip()
                found.append((command, f"README.md:{line_no + offset}", language))
    # Inline code spans outside fenced blocks (headings' synopses included).
    outside = re.sub(r"^```.*?^```", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S | re.M)
    for match in re.finditer(r"`((?:build/)?xai [^`]+)`", outside, re.S):
        line_no = outside[: match.start()].count("\n") + 1
        found.append((" ".join(match.group(1).split()), f"README.md:{line_no}", "inline"))
    return found


def help_options(xai, subcommand, cache={}):
    if subcommand not in cache:
        result = subprocess.run([xai, subcommand, "--help"], capture_output=True, text=True)
        if result.returncode != 0:
            cache[subcommand] = None
        else:
            cache[subcommand] = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", result.stdout))
    return cache[subcommand]


def check_parses(command, where, xai, problems):
    """Quotes, redirections, subcommand and options of one command."""
    synopsis = any(mark in command for mark in SYNOPSIS_MARKS)
    # A pipe into another tool (jq) is shell, not xai; in a synopsis " | " separates alternatives.
    xai_part = command if synopsis else command.split(" | ")[0]
    try:
        lexer = shlex.shlex(xai_part, posix=True, punctuation_chars="<>;&")
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError as error:
        problems.append(f"{where}: `{command}`: the shell cannot read it ({error})")
        return
    for token in tokens:
        if token and set(token) <= set("<>;&"):
            problems.append(f"{where}: `{command}`: unquoted '{token}' (the shell takes it as a redirection; quote "
                            f"the argument)")
    words = [t for t in tokens if not (t and set(t) <= set("<>;&"))]
    if words and words[0] in ("build/xai", "xai"):
        words = words[1:]
    else:
        return  # another tool's command (python, a script)
    if not words or words[0].startswith("-"):
        return
    subcommand = words[0]
    options = help_options(xai, subcommand)
    if options is None:
        problems.append(f"{where}: `{command}`: no subcommand '{subcommand}'")
        return
    for word in words[1:]:
        if synopsis and "|" in word:
            alternatives = word.split("|")
        else:
            alternatives = [word]
        for alternative in alternatives:
            name = alternative.split("=")[0]
            if re.match(r"--?[A-Za-z]", name) and name not in options:
                problems.append(f"{where}: `{command}`: `xai {subcommand}` has no option {name}")


def sandbox(source, xai):
    root = tempfile.mkdtemp(prefix="xai-readme-")
    os.makedirs(os.path.join(root, "build"))
    os.symlink(os.path.realpath(xai), os.path.join(root, "build", "xai"))
    for name in ("scripts", "models"):
        os.symlink(os.path.join(source, name), os.path.join(root, name))
    os.makedirs(os.path.join(root, "examples", "patches"))
    committed = re.compile(r"(benign|malignant)-[0-9]+(\.mask)?\.png$")
    for name in os.listdir(os.path.join(source, "examples", "patches")):
        if committed.match(name):
            shutil.copy(os.path.join(source, "examples", "patches", name), os.path.join(root, "examples", "patches"))
    # What a reader of the examples has: a model of their own with its card, a patch.
    shutil.copy(os.path.join(source, "models", "demo-histo.pt"), os.path.join(root, "model.pt"))
    shutil.copy(os.path.join(source, "models", "demo-histo.json"), os.path.join(root, "model.json"))
    shutil.copy(os.path.join(source, "examples", "patches", "malignant-1.png"), os.path.join(root, "patch.png"))
    os.makedirs(os.path.join(root, "tmp"))
    return root


def run_as_written(command, where, root, problems):
    runnable = command.replace("/tmp/", os.path.join(root, "tmp") + "/")
    result = subprocess.run(["bash", "-o", "pipefail", "-c", runnable], cwd=root, capture_output=True, text=True,
                            timeout=600)
    if result.returncode != 0:
        problems.append(f"{where}: `{command}` exited {result.returncode}: "
                        f"{(result.stderr or result.stdout).strip().splitlines()[-1:]}")
    return result


def main():
    source, xai = sys.argv[1], os.path.abspath(sys.argv[2])
    with open(os.path.join(source, "README.md"), encoding="utf-8") as f:
        commands = readme_commands(f.read())
    problems = []
    for command, where, _ in commands:
        check_parses(command, where, xai, problems)
    root = sandbox(source, xai)
    ran = 0
    try:
        for command, where, language in commands:
            if language != "sh" or command.startswith(NOT_RUN):
                continue
            result = run_as_written(command, where, root, problems)
            ran += 1
            print(f"ran {where}: {command} -> exit {result.returncode}")
        # What the quick start promises to write, where it says.
        for name in ("malignant-1.gradcam.png", "malignant-1.gradcam.figure.png", "malignant-1.gradcam.npy",
                     "malignant-1.json"):
            if not os.path.exists(os.path.join(root, "xai-out", name)):
                problems.append(f"README.md quick start: xai-out/{name} was not written")
        if os.path.exists(os.path.join(root, "examples", "patches", "xai-out")):
            problems.append("README.md quick start wrote into the examples folder")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{len(commands)} README commands checked, {ran} run as written")
    for problem in problems:
        print("FAIL " + problem)
    print(f"README commands: {len(commands)} checked, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

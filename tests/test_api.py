"""The top-level API: lazy names that resolve to the real objects and are typed for checkers."""

import ast
import subprocess
import sys
from pathlib import Path

import drummernet


def test_every_public_name_resolves_to_its_module_object():
    import importlib

    for name, module in drummernet._EXPORTS.items():
        real = getattr(importlib.import_module(f"drummernet.{module}"), name)
        assert getattr(drummernet, name) is real, name


def test_type_checking_imports_match_the_lazy_exports():
    """The ``if TYPE_CHECKING`` block gives type checkers exactly the names the lazy loader
    serves, from the same modules, so the public API is never ``Any`` to them."""
    tree = ast.parse(Path(drummernet.__file__).read_text())
    typed: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom)
                for alias in stmt.names:
                    typed[alias.name] = stmt.module.removeprefix("drummernet.")
    assert typed == drummernet._EXPORTS
    assert sorted(drummernet.__all__) == sorted([*drummernet._EXPORTS, "__version__"])


def test_import_is_light_and_has_no_side_effects():
    """``import drummernet`` loads neither torch nor librosa and prints nothing."""
    code = (
        "import sys, drummernet; print(sorted(m for m in ('torch', 'librosa') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]" and out.stderr == ""


def test_errors_share_one_base():
    from drummernet import errors

    for name in dir(errors):
        value = getattr(errors, name)
        if (
            isinstance(value, type)
            and issubclass(value, Exception)
            and not issubclass(value, Warning)
            and value.__module__ == errors.__name__
        ):
            assert issubclass(value, drummernet.DrummerNetError), name


def test_loading_the_model_stays_off_torchs_compiler():
    """The load-time shape check builds the analyzer on the meta device; nothing in that build
    may pull in ``torch._dynamo`` (about a second added to every command)."""
    code = (
        "import sys\n"
        "from drummernet.transcription.inference import load_model\n"
        "load_model()\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

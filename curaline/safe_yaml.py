"""Bounded YAML loading for everything a user or a manifest author writes.

PyYAML's safe loader is safe against code execution but not against size: a
"billion laughs" document (anchors of anchors, a few hundred bytes) expands to
billions of nodes once anything walks it, and `sources check` ran 42 s, reached
3 GB and died with a MemoryError traceback. Here a document is refused, with one
line naming the file, when

- the file is larger than `max_bytes` (read at most that many bytes),
- its node graph *with aliases expanded* would exceed `max_nodes` (counted on the
  composed graph with memoization, so the count itself costs the document's size),
- an alias refers to a node that contains it (a recursive structure),
- nesting is deeper than Python's recursion allows,

and any YAML syntax error becomes the same one-line `YamlError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

#: A manifest, a release spec or curaline.yaml is a few KB; 1 MiB is far beyond any real one.
MAX_BYTES = 1 << 20
#: Nodes after alias expansion: a real config has hundreds.
MAX_NODES = 100_000


class YamlError(ValueError):
    """A YAML file that cannot be loaded safely: str() is one line naming the file."""

    def __init__(self, file: str, where: str, message: str):
        self.file, self.where, self.message = file, where, message
        super().__init__(f"{file}: {where}: {message}")


_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # type: ignore[assignment]


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """Nodes in the document as if every alias were copied; stops counting past `limit`."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise ValueError("an alias refers to a node that contains it (recursive structure)")
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            for child in node.value:
                total += size(child)
                if total > limit:
                    break
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                total += size(k) + size(v)
                if total > limit:
                    break
        active.discard(key)
        sizes[key] = total
        return total

    return size(root)


def _where(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    return f"line {mark.line + 1}" if mark is not None else "-"


def loads(text: str | bytes, file: str = "<string>", *, max_nodes: int = MAX_NODES) -> Any:
    """Parse one YAML document within the node limit; raise YamlError (one line) otherwise."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        n = _expanded_size(node, max_nodes)
        if n > max_nodes:
            raise YamlError(file, "-", f"too large once its aliases are expanded (over {max_nodes} nodes): "
                                       "write the values out instead of nesting anchors")  # fmt: skip
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise YamlError(file, _where(exc), f"not valid YAML: {problem}") from None
    except RecursionError:
        raise YamlError(file, "-", "nested too deeply to be a manifest or configuration") from None
    except ValueError as exc:
        if isinstance(exc, YamlError):
            raise
        raise YamlError(file, "-", str(exc).splitlines()[0]) from None
    finally:
        loader.dispose()


def load_file(path: Path, *, max_bytes: int = MAX_BYTES, max_nodes: int = MAX_NODES) -> Any:
    """Read and parse a YAML file of at most `max_bytes`; raise YamlError or OSError."""
    with path.open("rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise YamlError(str(path), "-", f"larger than {max_bytes} bytes: not a manifest or configuration")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlError(str(path), "-", f"not UTF-8 text (invalid byte at offset {exc.start})") from None
    return loads(text, str(path), max_nodes=max_nodes)

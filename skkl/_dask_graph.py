"""Fuse each block's private producers into the task that reduces it (internal).

A blockwise reduction is a graph in which block k of X, block k of y (often
each the end of a chain: read, slice, generate, map) and their summary are
separate tasks. A distributed scheduler may produce the X block on one
worker and the y block on another, then move one of them (tens of MiB for X)
to where the summary is computed, serialising it on the way. Here every task
whose result is used only on the way to one *unit* (a group of blocks
reduced in one task) is fused into that unit's task: a block is produced and
reduced in one task, and only its small summary ever leaves the worker.
Tasks that several units need (the array that ``da.from_array`` slices,
persisted data, a rechunked ``y`` piece spanning two blocks) stay separate.

Fusing needs dask's task specification (dask >= 2024.12); with an older dask
the graph is returned unchanged, which gives the same result, unfused.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

__all__ = ["fuse_units"]

# Owner of a task that more than one unit (or the merge tree) needs.
_SHARED = object()


def _task_spec():
    try:
        from dask._task_spec import GraphNode, Task, convert_legacy_graph
    except ImportError:  # dask before the task specification
        return None
    if not hasattr(GraphNode, "fuse"):
        return None
    return GraphNode, Task, convert_legacy_graph


def _dependents(deps: Mapping) -> dict:
    out = {k: [] for k in deps}
    for k, ds in deps.items():
        for d in ds:
            out[d].append(k)
    return out


def _owners(deps: Mapping, units: set, fusable: set) -> dict:
    """The unit each task is private to (``_SHARED`` if none or several).

    Tasks are visited after all their dependents (Kahn's order on the reversed
    graph): a task belongs to a unit when every dependent belongs to it.
    """
    dependents = _dependents(deps)
    waiting = {k: len(v) for k, v in dependents.items()}
    ready = [k for k, n in waiting.items() if n == 0]
    owner: dict = {}
    while ready:
        k = ready.pop()
        if k in units:
            owner[k] = k
        else:
            seen = {owner[d] for d in dependents[k]}
            only = seen.pop() if len(seen) == 1 else _SHARED
            owner[k] = only if k in fusable else _SHARED
        for d in deps[k]:
            waiting[d] -= 1
            if waiting[d] == 0:
                ready.append(d)
    return owner


def fuse_units(dsk: Mapping, units: Sequence[Hashable]) -> dict:
    """``dsk`` with every unit's private ancestors fused into the unit's task.

    Parameters
    ----------
    dsk : mapping
        A dask graph (legacy tuples or task-spec nodes), all of it culled to
        what the reduction needs.
    units : sequence of keys
        The tasks that reduce one or more blocks; none is an ancestor of
        another.

    Returns
    -------
    dict
        The graph, with each unit's key now one task that computes the unit
        and every task only it needs. Keys that hold data rather than a task
        (persisted futures, constants used by several units) are untouched.
    """
    spec = _task_spec()
    dsk = dict(dsk)
    if spec is None or not units:
        return dsk
    GraphNode, Task, convert_legacy_graph = spec
    nodes = convert_legacy_graph(dsk)
    # Keys whose value is a future are dropped by the conversion: they stay
    # external dependencies, resolved by the scheduler where the data lives.
    deps = {
        k: [d for d in node.dependencies if d in nodes] for k, node in nodes.items()
    }
    fusable = {k for k in nodes if isinstance(dsk.get(k), (tuple, GraphNode))}
    owner = _owners(deps, set(units), fusable)
    members: dict = {u: [] for u in units}
    for k, o in owner.items():
        if o is not _SHARED:
            members[o].append(k)
    for unit, keys in members.items():
        if len(keys) < 2:
            continue
        for k in keys:
            del dsk[k]
        dsk[unit] = Task.fuse(*(nodes[k] for k in keys), key=unit)
    return dsk

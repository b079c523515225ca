"""What differs between two tables, as identities in the order a plan makes
its changes (bottom of pyipvs.reconcile: pure Python, no imports).

The planner (plan.py) turns these identities into `Change`s of model
objects. The `pyipvs` console script's thin start (pyipvs/cli/quick_pyipvs.py)
sends them as byte records without loading the model at all. Both take the
order from here, so the thin start's commands are the plan's changes, one
for one, and a failure at command i is the plan's change i.

A table is two dicts in its own order: service identity to settings, and
server identity (which includes its service's) to settings; equal settings
mean equal configuration, and both are hashable, so whole tables are
compared with set operations at C speed and only what differs is looked at
one by one.
"""

TYPE_CHECKING = False  # not typing's: typing is start-up cost for the thin start
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping
    from typing import Any

    Ident = Any

# The actions, as plan.Action's values (plan.py checks that they agree).
ADD_SERVICE = "add-service"
EDIT_SERVICE = "edit-service"
ADD_SERVER = "add-server"
EDIT_SERVER = "edit-server"
DELETE_SERVER = "delete-server"
DELETE_SERVICE = "delete-service"


class Diff:
    """One kind (services, or servers) of two tables compared: identities
    the live table lacks (`added`) and those whose settings differ
    (`edited`), both in the wanted order; live identities not wanted
    (`gone`), in the live order."""

    __slots__ = ("added", "edited", "gone")

    def __init__(self, added: "list[Ident]", edited: "list[Ident]", gone: "list[Ident]") -> None:
        self.added, self.edited, self.gone = added, edited, gone


def diff(live: "Mapping[Ident, Ident]", want: "Mapping[Ident, Ident]") -> Diff:
    """One kind of two tables, each identity to its settings in the
    table's order, compared with set operations (the thin start does the
    same in C: pyipvs._native.thin_records.differences)."""
    new_pairs = want.items() - live.items()
    old_pairs = live.items() - want.items()
    added: list[Ident] = []
    edited: list[Ident] = []
    if new_pairs:
        wpos = {k: i for i, k in enumerate(want)}
        for k in sorted((k for k, _ in new_pairs), key=wpos.__getitem__):
            (edited if k in live else added).append(k)
    gone: list[Ident] = []
    unwanted = {k for k, _ in old_pairs if k not in want}
    if unwanted:
        gone = [k for k in live if k in unwanted]
    return Diff(added, edited, gone)


class Delta:
    """The identities that differ, grouped as the plan's steps need them:
    `added` services (each with the servers of `with_service`), `edited`
    services, `new_servers` of kept services, `edited_servers`, `gone`
    servers (of kept services) and `removed` services (with their servers)."""

    __slots__ = ("added", "edited", "edited_servers", "gone", "new_servers", "removed",
                 "with_service")  # fmt: skip

    def __init__(
        self, added: "list[Ident]", with_service: "dict[Ident, list[Ident]]",
        edited: "list[Ident]", new_servers: "list[Ident]", edited_servers: "list[Ident]",
        gone: "list[Ident]", removed: "list[Ident]",
    ) -> None:  # fmt: skip
        self.added, self.with_service, self.edited = added, with_service, edited
        self.new_servers, self.edited_servers = new_servers, edited_servers
        self.gone, self.removed = gone, removed

    def additions(self) -> "Iterator[tuple[str, Ident]]":
        """(action, identity) of every step before any drain, in order: new
        services each with its servers, edited services, new servers of
        kept services, edited servers."""
        for k in self.added:
            yield ADD_SERVICE, k
            for d in self.with_service[k]:
                yield ADD_SERVER, d
        for k in self.edited:
            yield EDIT_SERVICE, k
        for d in self.new_servers:
            yield ADD_SERVER, d
        for d in self.edited_servers:
            yield EDIT_SERVER, d

    def deletions(self) -> "Iterator[tuple[str, Ident]]":
        """(action, identity) of the deletions, in order: servers that go
        away from kept services, then services that go away."""
        for d in self.gone:
            yield DELETE_SERVER, d
        for k in self.removed:
            yield DELETE_SERVICE, k

    def unchanged(self, services: int, servers: int) -> tuple[int, int]:
        """Of a desired table of so many services and servers, how many of
        each already match."""
        in_added = sum(len(g) for g in self.with_service.values())
        return (
            services - len(self.added) - len(self.edited),
            servers - in_added - len(self.new_servers) - len(self.edited_servers),
        )


def delta(
    services: Diff, servers: Diff, wanted_services: "Iterable[Ident]",
    service_of: "Callable[[Ident], Ident]",
) -> Delta:  # fmt: skip
    """The steps that turn the live table into the wanted one, from both
    kinds compared. wanted_services: the wanted services' identities in
    order (iterated only when servers of kept services go away, which go
    by wanted service, then in the live order)."""
    of = service_of
    removed = set(services.gone)
    with_service: dict[Ident, list[Ident]] = {k: [] for k in services.added}
    new_servers: list[Ident] = []
    for k in servers.added:
        group = with_service.get(of(k))
        (group if group is not None else new_servers).append(k)
    # An edited server is live, so its service is too: never an added one.
    gone = [k for k in servers.gone if of(k) not in removed]
    if gone:
        spos = {k: i for i, k in enumerate(wanted_services)}
        gone.sort(key=lambda k: spos[of(k)])  # stable: the live order within a service
    return Delta(services.added, with_service, services.edited, new_servers, servers.edited,
                 gone, services.gone)  # fmt: skip

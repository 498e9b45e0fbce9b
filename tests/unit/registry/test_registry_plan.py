"""Unit: the retention plan (registry.md §3.5) — tables first, then a hypothesis property."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from homeops.registry.plan import Policy, TagInfo, plan_repo


def image(tag: str, n: int, created: str | None = None, *, children: int = 3) -> TagInfo:
    top = f"sha256:{n:064x}"
    kids = {f"sha256:{n * 100 + i:064x}" for i in range(1, children + 1)}
    return TagInfo(tag, top, created, frozenset({top, *kids}))


def day(d: int) -> str:
    return f"2026-11-{d:02d}T00:00:00Z"


def test_keeps_newest_and_latest_and_cache() -> None:
    tags = [image(f"v{d}", d, day(d)) for d in range(1, 8)] + [
        image("latest", 7, day(7)),
        image("buildcache", 50),
    ]
    plan = plan_repo("t/app", tags, Policy(keep=3))
    kept = {k["tag"] for k in plan.keep}
    assert kept == {"latest", "buildcache", "v7", "v6", "v5"}
    deleted_tags = [d["ref"] for d in plan.delete if d["kind"] == "tag"]
    assert deleted_tags == ["v4", "v3", "v2", "v1"]
    children = [d for d in plan.delete if d["kind"] == "child"]
    assert len(children) == 12  # 3 per deleted index
    assert plan.refused is None


def test_latest_is_never_ranked_oldest() -> None:
    tags = [image("latest", 1, day(1)), image("b", 2, day(2)), image("c", 3, day(3))]
    plan = plan_repo("r", tags, Policy(keep=1))
    assert {k["tag"] for k in plan.keep} == {"latest", "c"}


def test_shared_digest_is_skipped() -> None:
    a = image("v1", 1, day(1))
    tags = [a, TagInfo("v1-alias", a.digest, day(9), a.closure), image("v2", 2, day(2))]
    plan = plan_repo("r", tags, Policy(keep=1))
    # v1-alias is newest and kept; v1 shares its digest, so it is not deleted
    assert {"ref": "v1", "reason": "shares_digest"} in plan.skipped
    assert [d["ref"] for d in plan.delete if d["kind"] == "tag"] == ["v2"]


def test_child_shared_with_a_kept_tag_is_kept() -> None:
    shared = "sha256:" + "e" * 64
    old = TagInfo("old", "sha256:" + "1" * 64, day(1), frozenset({"sha256:" + "1" * 64, shared}))
    new = TagInfo("new", "sha256:" + "2" * 64, day(2), frozenset({"sha256:" + "2" * 64, shared}))
    plan = plan_repo("r", [old, new], Policy(keep=1))
    assert shared not in {d["digest"] for d in plan.delete}


def test_unresolved_kept_tag_refuses_repo() -> None:
    old_unresolved = [TagInfo("v0", None, day(1), None), image("v1", 1, day(5))]
    plan = plan_repo("r", old_unresolved, Policy(keep=1))
    assert plan.refused is None  # an unresolvable candidate is only skipped
    assert {"ref": "v0", "reason": "unresolved"} in plan.skipped
    newest_unresolved = [TagInfo("v9", None, day(9), None), image("v1", 1, day(1))]
    plan = plan_repo("r", newest_unresolved, Policy(keep=1))
    assert plan.refused is not None
    assert plan.to_json()["delete"] == []


def test_broken_kept_tag_refuses() -> None:
    t = image("v2", 2, day(2))
    tags = [TagInfo("v2", t.digest, t.created, t.closure, broken="missing_blob"), image("v1", 1, day(1))]
    plan = plan_repo("r", tags, Policy(keep=1))
    assert plan.refused and plan.to_json()["delete"] == []


def test_dangling_versions_reported() -> None:
    t = image("v1", 1, day(1))
    stray = "sha256:" + "f" * 64
    plan = plan_repo("r", [t], Policy(keep=1), digest_versions=frozenset({*t.closure, stray} - {t.digest}))
    assert {"ref": stray, "reason": "dangling"} in plan.skipped


def test_forgejo_deletes_only_existing_child_versions() -> None:
    old, new = image("a", 1, day(1)), image("b", 2, day(2))
    some = sorted(old.closure - {old.digest})[:1]
    plan = plan_repo("r", [old, new], Policy(keep=1), digest_versions=frozenset(some))
    assert [d["digest"] for d in plan.delete if d["kind"] == "child"] == some


@given(
    st.lists(st.tuples(st.integers(1, 28), st.integers(0, 5), st.booleans()), min_size=1, max_size=15),
    st.integers(1, 5),
)
def test_never_deletes_the_kept_closure(spec: list[tuple[int, int, bool]], keep: int) -> None:
    shared_pool = [f"sha256:{0xABC000 + i:064x}" for i in range(6)]
    tags = []
    for i, (d, share, dated) in enumerate(spec):
        top = f"sha256:{i + 1:064x}"
        tags.append(TagInfo(f"t{i}", top, day(d) if dated else None, frozenset({top, shared_pool[share]})))
    plan = plan_repo("r", tags, Policy(keep=keep))
    deleted = {d["digest"] for d in plan.delete}
    assert not deleted & plan.kept_closure
    kept = {k["tag"] for k in plan.keep}
    assert len([k for k in plan.keep if k["reason"] == "newest"]) <= keep
    assert not kept & {d["ref"] for d in plan.delete}


def test_retention_options_named_and_frozen_flags_over_settings() -> None:
    import dataclasses

    import pytest

    from homeops.errors import UsageError
    from homeops.registry.retention_cli import RetentionOptions, policy_of
    from homeops.registry.settings import Settings

    settings = Settings()
    asked = RetentionOptions(keep=3, protect=["stable"], repos=["viktor/*"])
    assert asked.protect == ("stable",) and asked.repos == ("viktor/*",)  # lists from Typer are frozen too
    with pytest.raises(dataclasses.FrozenInstanceError):
        asked.keep = 4  # type: ignore[misc]
    policy = policy_of(settings, asked, "forgejo")
    assert (policy.keep, policy.protect, policy.protect_regex) == (3, ("stable",), ("(?i)cache",))
    assert policy.undated_kept is False
    defaults = policy_of(settings, RetentionOptions(), "distribution")
    assert (defaults.keep, defaults.protect, defaults.undated_kept) == (10, ("latest",), True)
    with pytest.raises(UsageError, match="--keep"):
        policy_of(settings, RetentionOptions(keep=0), "forgejo")
    with pytest.raises(UsageError, match="--protect-regex"):
        policy_of(settings, RetentionOptions(protect_regex=["("]), "forgejo")

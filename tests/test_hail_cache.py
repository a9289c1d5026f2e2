"""ScoreCache is append-only: each run writes a part holding only its new scores, a part counts
once complete, earlier parts and a base table are never rewritten, compaction merges parts.

Real Hail on local Spark (the session of conftest), the toy model over the real chr21 SNVs.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

hl = pytest.importorskip("hail", reason="needs the hail extra: pip install '.[hail]'")
pytest.importorskip("pyarrow", reason="needs the hail extra: pip install '.[hail]'")

from hail_seqscore import ScoreCache, ScoreStats, score_table  # noqa: E402
from hail_seqscore.errors import CacheProvenanceError, ConfigError  # noqa: E402
from toy_models import build_toy_model  # noqa: E402

pytestmark = pytest.mark.timeout(300)
CUTS = (25_700_000, 25_900_000)          # the runs score the records before each cut, then all


@pytest.fixture(scope="module")
def chr21(shared_data):
    return shared_data / "grch38_chr21"


@pytest.fixture(scope="module")
def args(tmp_path_factory, chr21):
    toy = str(build_toy_model(tmp_path_factory.mktemp("toy") / "toy.onnx"))
    return dict(model=toy, reference=str(chr21 / "chr21.fa.gz"),
                annotation=str(chr21 / "genes.grch38.spliceai.txt"), distance=50, mask=False)


@pytest.fixture(scope="module")
def keys(hail_session, chr21):
    mt = hl.import_vcf(str(chr21 / "dbsnp_snvs.vcf"), reference_genome="GRCh38",
                       contig_recoding={"21": "chr21"})
    return mt.rows().select().select_globals().checkpoint(str(hail_session / "cache_keys.ht"))


@pytest.fixture(scope="module")
def plain(keys, args):
    """Every key scored without a cache."""
    return collect(score_table(keys, **args))


def collect(ht) -> dict:
    return {(r.locus.position, tuple(r.alleles)): r.seqscore for r in ht.collect()}


def cached(cache) -> dict:
    rows = cache.table().collect()
    return {(r.locus.position, tuple(r.alleles)): r for r in rows}


def digest(folder: str) -> dict[str, str]:
    """Every file under ``folder`` and its sha256 (to show a table was not rewritten)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def run(keys, args, cache, below=None) -> ScoreStats:
    stats = ScoreStats()
    ht = keys if below is None else keys.filter(keys.locus.position < below)
    score_table(ht, **args, cache=cache, stats=stats)._force_count()
    return stats


def test_each_run_appends_a_part_and_leaves_the_others_untouched(hail_session, keys, args,
                                                                 plain):
    cache = ScoreCache(str(hail_session / "append_cache"))
    n1 = keys.filter(keys.locus.position < CUTS[0]).count()
    n2 = keys.filter(keys.locus.position < CUTS[1]).count()
    assert 0 < n1 < n2 < len(plain)
    s = run(keys, args, cache, CUTS[0])
    assert s.to_score == s.scored == n1
    (first,) = cache.appended()
    before = digest(first)
    s = run(keys, args, cache, CUTS[1])
    assert s.to_score == s.scored == n2 - n1                  # only the misses
    assert cache.appended()[0] == first and len(cache.appended()) == 2
    assert digest(first) == before                            # not rewritten
    assert hl.read_table(cache.appended()[1]).count() == n2 - n1   # the new part: misses only
    got = collect(score_table(keys, **args, cache=cache))
    assert got == plain and cache.table().count() == len(plain)
    assert cache.base() is None and cache.provenance()["distance"] == 50


def test_a_part_without_success_is_ignored_and_kept(hail_session, keys, args, plain):
    """What a run killed while writing its part leaves: files without ``_SUCCESS``."""
    cache = ScoreCache(str(hail_session / "killed_cache"))
    run(keys, args, cache, CUTS[0])
    (done,) = cache.appended()
    torn = Path(cache.path) / "parts" / "99999999T999999-torn.ht"
    shutil.copytree(done, torn)
    (torn / "_SUCCESS").unlink()
    assert cache.appended() == [done] and cache.appended(complete=False) == [str(torn)]
    s = run(keys, args, cache)
    assert s.to_score == s.scored == len(plain) - hl.read_table(done).count()
    assert len(cache.appended()) == 2 and torn.is_dir()
    assert cache.compact() is not None
    assert len(cache.appended()) == 1 and torn.is_dir()      # a run may still be writing it


def test_compaction_after_max_parts_keeps_every_score(hail_session, keys, args, plain):
    cache = ScoreCache(str(hail_session / "compact_cache"), max_parts=2)
    run(keys, args, cache, CUTS[0])
    run(keys, args, cache, CUTS[1])
    old = cache.appended()
    assert len(old) == 2
    before = cached(cache)
    run(keys, args, cache)                                   # a third part: over max_parts
    (merged,) = cache.appended()
    assert merged not in old and not any(Path(p).exists() for p in old)
    after = cached(cache)
    assert len(after) == len(plain) and all(after[k] == v for k, v in before.items())
    assert hl.read_table(merged).count() == len(plain)
    s = run(keys, args, cache)
    assert s.to_score == 0 and collect(score_table(keys, **args, cache=cache)) == plain


def test_a_base_table_is_read_first_and_never_written(hail_session, keys, args, plain):
    """A table at the cache's path (what precompute_table writes) is the first part."""
    path = str(hail_session / "base_cache")
    seed = ScoreCache(str(hail_session / "seed_cache"))
    run(keys, args, seed, CUTS[0])
    hl.read_table(seed.appended()[0]).write(path)
    before = digest(path)
    cache = ScoreCache(path)
    assert cache.base() == path and cache.appended() == []
    s = run(keys, args, cache)
    assert s.to_score == s.scored == len(plain) - hl.read_table(path).count()
    assert {k: v for k, v in digest(path).items() if not k.startswith("parts/")} == before
    assert len(cache.appended()) == 1 and cache.parts() == [path, *cache.appended()]
    assert collect(score_table(keys, **args, cache=cache)) == plain


def test_keys_in_two_parts_come_out_once(hail_session, keys, args, plain):
    """Two runs that appended at once may both have scored a key."""
    cache = ScoreCache(str(hail_session / "twice_cache"))
    run(keys, args, cache, CUTS[0])
    (first,) = cache.appended()
    shutil.copytree(first, Path(cache.path) / "parts" / "99999999T999999-again.ht")
    assert cache.table().count() == 2 * hl.read_table(first).count()
    stats = ScoreStats()
    got = score_table(keys, **args, cache=cache, stats=stats)
    assert got.count() == len(plain) and collect(got) == plain
    assert stats.to_score == len(plain) - hl.read_table(first).count()


def test_a_part_of_another_provenance_is_named(hail_session, keys, args):
    cache = ScoreCache(str(hail_session / "mixed_cache"))
    run(keys, args, cache, CUTS[0])
    other = ScoreCache(str(hail_session / "other_cache"))
    run(keys, dict(args, distance=10), other, CUTS[0])
    shutil.copytree(other.appended()[0], Path(cache.path) / "parts" / "99999999T999999-x.ht")
    with pytest.raises(CacheProvenanceError,
                       match=r"part .*99999999T999999-x\.ht\) was made with another "
                             r"provenance.*distance: cache has 10, this run has 50"):
        run(keys, args, cache)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "4"])
def test_max_parts_checked(bad):
    with pytest.raises(ConfigError, match="max_parts must be a whole number"):
        ScoreCache("/nonexistent/cache", max_parts=bad)


def test_a_relative_path_is_the_folder_under_the_working_directory(hail_session, keys, args,
                                                                   monkeypatch):
    monkeypatch.chdir(hail_session)
    cache = ScoreCache("relative_cache")
    assert cache.path == str(hail_session / "relative_cache")
    s = run(keys, args, cache, CUTS[0])
    assert s.to_score == s.scored > 0
    s = run(keys, args, ScoreCache("relative_cache"), CUTS[0])
    assert s.to_score == 0 and len(cache.appended()) == 1

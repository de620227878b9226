"""Writing the corpus: Parquet by atomic replace, and the Hugging Face ``datasets`` copy (``save_to_disk`` layout)
written from the same Arrow batches -- the corpus is converted to Arrow once, and neither copy is re-encoded
from the other."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

# ~20k records (~25 MB of text at BiMed1.3M's mean length) a row group: a streaming reader holds one group,
# not the whole file; the writer, too, converts one group to Arrow at a time. (At 1.31M records this is faster
# and ~1 GB leaner than Polars' own writer on the assembled frame, whose strings point into many buffers.)
ROW_GROUP_SIZE = 20_000
# Records converted to Arrow at a time: converting a slice of the assembled frame costs a pass over all the
# buffers its strings point into, so slices are few (~10 at 1.31M records) and written as several row groups.
SLICE_ROWS = 131_072
# Statistics where a reader can filter on them; those of long message texts would only cost time.
STATISTICS = ["id", "task", "source", "language"]
# ``datasets``' own shard bound (``config.MAX_SHARD_SIZE``): Arrow bytes per ``data-*.arrow`` file.
MAX_SHARD_BYTES = 500 << 20


class HFDatasetWriter:
    """The layout ``datasets.Dataset.save_to_disk`` writes (Arrow IPC stream shards ``data-0000i-of-0000n.arrow``
    written by ``datasets``' own ``ArrowWriter``, ``dataset_info.json``, ``state.json``), filled with Arrow tables
    as they come; ``datasets.load_from_disk`` reads it. Shards close at ``max_shard_bytes``."""

    def __init__(self, directory: Path, schema: pa.Schema, max_shard_bytes: int = MAX_SHARD_BYTES) -> None:
        import datasets  # imported here: only the HF copy needs it, and importing it is slow

        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.features = datasets.Features.from_arrow_schema(schema)
        self.max_shard_bytes = max_shard_bytes
        self.shards: list[Path] = []
        self.writer = None
        self.shard_bytes = 0

    def write(self, table: pa.Table) -> None:
        from datasets.arrow_writer import ArrowWriter

        if self.writer is not None and self.shard_bytes and self.shard_bytes + table.nbytes > self.max_shard_bytes:
            self._close_shard()
        if self.writer is None:
            self.shards.append(self.directory / f".shard-{len(self.shards):05d}.arrow")
            self.writer = ArrowWriter(features=self.features, path=str(self.shards[-1]))
        self.writer.write_table(table)
        self.shard_bytes += table.nbytes

    def _close_shard(self) -> None:
        self.writer.finalize()
        self.writer.close()
        self.writer, self.shard_bytes = None, 0

    def close(self, fingerprint: str) -> Path:
        from dataclasses import asdict

        import datasets

        if self.writer is None and not self.shards:  # no rows: one empty shard, as save_to_disk writes
            self.write(self.features.arrow_schema.empty_table())
        if self.writer is not None:
            self._close_shard()
        names = [f"data-{i:05d}-of-{len(self.shards):05d}.arrow" for i in range(len(self.shards))]
        for shard, name in zip(self.shards, names):
            os.replace(shard, self.directory / name)
        state = {"_data_files": [{"filename": name} for name in names], "_fingerprint": fingerprint,
                 "_format_columns": None, "_format_kwargs": {}, "_format_type": None, "_output_all_columns": False,
                 "_split": None}
        info = asdict(datasets.DatasetInfo(features=self.features))
        (self.directory / "state.json").write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")
        (self.directory / "dataset_info.json").write_text(json.dumps({k: info[k] for k in sorted(info)}, indent=2),
                                                          encoding="utf-8")
        return self.directory


def write_parquet_atomic(frame: pl.DataFrame, path: Path, row_group_size: int = ROW_GROUP_SIZE,
                         hf_directory: Path | None = None) -> Path:
    """Write to a temporary file in the same directory, fsync, then ``os.replace``: a crash leaves the old file.
    With ``hf_directory``, the same Arrow batches also make the ``datasets`` copy there (``HFDatasetWriter``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as sink:
            schema = frame.head(0).to_arrow().schema
            hf = HFDatasetWriter(hf_directory, schema) if hf_directory is not None else None
            statistics = [c for c in STATISTICS if c in frame.columns]
            with pq.ParquetWriter(sink, schema, compression="zstd", write_statistics=statistics) as writer:
                for part in frame.iter_slices(max(SLICE_ROWS, row_group_size)):
                    table = part.to_arrow()
                    writer.write_table(table, row_group_size)
                    if hf is not None:
                        hf.write(table)
                    del table
            sink.flush()
            os.fsync(sink.fileno())
            if hf is not None:
                hf.close(fingerprint=f"{frame.height}-{os.path.getsize(tmp)}")
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600: a training pod under another user must read it
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power loss
    finally:
        os.close(directory)
    return path


def dataset_features(parquet: Path) -> dict:
    """The file's ``dataset_info`` features for the card's YAML, in the ``datasets`` library's own notation."""
    import datasets

    features = datasets.Features.from_arrow_schema(pq.read_schema(parquet))
    return datasets.DatasetInfo(features=features)._to_yaml_dict()


def save_hf_dataset(parquet: Path, directory: Path) -> Path:
    """The ``datasets`` copy (``save_to_disk`` layout) of a written Parquet file, read a row group at a time."""
    source = pq.ParquetFile(parquet)
    hf = HFDatasetWriter(directory, source.schema_arrow)
    for group in range(source.num_row_groups):
        hf.write(source.read_row_group(group))
    return hf.close(fingerprint=f"{source.metadata.num_rows}-{Path(parquet).stat().st_size}")

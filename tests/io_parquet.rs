//! The Parquet reader and writer: files written by pyarrow, duckdb and polars (every codec,
//! dictionary and plain, pages v1 and v2, delta encodings, int96) read equal to pyarrow's reading;
//! row-group skipping on statistics; the chunked reader; datasets; bad files; plan scans; the GPU
//! decoder (on the simulated device, and CUDA with `EMBER_TEST_CUDA=1`) equal to the CPU reader.
mod common;
use arrow::array::{Array, ArrayRef, RecordBatch};
use arrow::compute::cast;
use ember::io::{FileFormat, ParquetChunks};
use ember::prelude::*;
use ember::{CsvReadOptions, ParquetWriteOptions};
use std::path::{Path, PathBuf};
use std::process::Command;

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ember-io-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn read_ipc(path: &Path) -> RecordBatch {
    let f = std::fs::File::open(path).unwrap();
    let reader = arrow::ipc::reader::FileReader::try_new(f, None).unwrap();
    let schema = reader.schema();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    arrow::compute::concat_batches(&schema, &batches).unwrap()
}

/// Column-by-column equality, after casting ours to the expected column's type (strings may
/// come back as Utf8View, time zones are dropped).
fn assert_same(case: &str, got: &DataFrame, expected: &RecordBatch) {
    assert_eq!(got.num_rows(), expected.num_rows(), "{case}: rows");
    assert_eq!(got.num_columns(), expected.num_columns(), "{case}: columns");
    for (i, f) in expected.schema().fields().iter().enumerate() {
        let ours: ArrayRef = got.column(f.name()).unwrap().to_arrow().unwrap();
        let ours = cast(&ours, f.data_type()).unwrap();
        let theirs = expected.column(i);
        if ours.to_data() != theirs.to_data() {
            let first = (0..ours.len()).find(|&r| ours.slice(r, 1).to_data() != theirs.slice(r, 1).to_data());
            panic!("{case}: column {} differs first at row {first:?}", f.name());
        }
    }
}

#[test]
fn files_written_by_pyarrow_duckdb_polars_read_as_pyarrow_reads_them() {
    let Some(py) = common::python_with("pyarrow") else {
        assert!(std::env::var("CI").is_err(), "CI must have python with pyarrow (scripts/test.sh installs it)");
        eprintln!("SKIPPED: no python with pyarrow (set EMBER_PYTHON); the reader oracle test did not run");
        return;
    };
    let dir = temp_dir("oracle");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/io_files.py");
    let out = Command::new(&py).arg(&script).arg(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cases = std::fs::read_to_string(dir.join("cases.txt")).unwrap();
    let mut checked = 0;
    for case in cases.lines().filter(|l| !l.is_empty()) {
        let path = dir.join(case);
        match FileFormat::from_path(&path).unwrap() {
            FileFormat::Parquet => {
                let expected = read_ipc(&dir.join(case.replace(".parquet", ".arrow")));
                let got = ember::read_parquet(&path, &ParquetReadOptions::default()).unwrap();
                assert_same(case, &got, &expected);
                // Every reachable column alone, and the chunked reader, give the same values.
                let chunks: Vec<DataFrame> = ParquetChunks::new(&path, &ParquetReadOptions::default(), 16 << 10)
                    .unwrap()
                    .map(|c| c.unwrap())
                    .collect();
                let joined = ember::concat(&chunks).unwrap();
                assert_same(case, &joined, &expected);
                // The GPU decoder gives the same values.
                for device in common::gpu_devices() {
                    let gpu = ember::io::read_parquet_on(&path, &ParquetReadOptions::default(), device, None).unwrap();
                    assert_eq!(gpu.device(), device);
                    assert_same(&format!("{case} on {device}"), &gpu.to(Device::Cpu).unwrap(), &expected);
                }
            }
            FileFormat::Csv => {
                let expected = read_ipc(&dir.join("pa-csv.arrow"));
                let schema: Vec<ember::Field> = expected
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| ember::Field {
                        name: f.name().clone(),
                        dtype: DType::from_arrow(f.data_type()).unwrap(),
                        nullable: true,
                    })
                    .collect();
                // pyarrow writes a null as an empty field and the empty string as `""`.
                let got = ember::read_csv(&path, &CsvReadOptions::default().with_schema(schema)).unwrap();
                let s = got.column("s").unwrap().to_arrow().unwrap();
                let want = expected.column_by_name("s").unwrap();
                assert_eq!(s.null_count(), want.null_count(), "{case}: nulls of s");
                for c in ["i64", "f64", "b", "d12", "date"] {
                    let ours = got.column(c).unwrap().to_arrow().unwrap();
                    assert_eq!(ours.to_data(), expected.column_by_name(c).unwrap().to_data(), "{case}: {c}");
                }
            }
        }
        checked += 1;
    }
    assert!(checked >= 25, "{checked} cases");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn numbers(n: i64) -> DataFrame {
    let batch = RecordBatch::try_from_iter([
        ("k", std::sync::Arc::new(arrow::array::Int64Array::from_iter_values(0..n)) as ArrayRef),
        (
            "v",
            std::sync::Arc::new(arrow::array::Float64Array::from_iter(
                (0..n).map(|i| (i % 7 != 0).then_some(i as f64 * 0.5)),
            )),
        ),
        (
            "s",
            std::sync::Arc::new(arrow::array::StringArray::from_iter_values(
                (0..n).map(|i| format!("s{:05}", i % 1000)),
            )),
        ),
    ])
    .unwrap();
    DataFrame::from_record_batch(&batch).unwrap()
}

#[test]
fn row_groups_are_skipped_by_statistics_and_results_stay_exact() {
    let dir = temp_dir("prune");
    let path = dir.join("n.parquet");
    let df = numbers(10_000);
    ember::write_parquet(&df, &path, &ParquetWriteOptions::default().with_row_group_size(1000)).unwrap();
    let read =
        |p: Expr| ember::read_parquet(&path, &ParquetReadOptions::default().with_predicate(p)).unwrap().num_rows();
    assert_eq!(read(col("k").lt(lit(1500i64))), 2000, "groups 0 and 1 only");
    assert_eq!(read(lit(8999i64).lt(col("k"))), 1000, "literal on the left");
    assert_eq!(read(col("k").eq(lit(4321i64))), 1000);
    assert_eq!(read(col("k").lt(lit(100i64)).or(col("k").gt_eq(lit(9900i64)))), 2000);
    assert_eq!(read(col("k").lt(lit(100i64)).and(col("k").gt(lit(5000i64)))), 0);
    assert_eq!(read(col("k").gt(lit(20_000i64))), 0);
    assert_eq!(read(col("s").eq(lit("zzz"))), 0, "strings");
    assert_eq!(read(col("v").gt(lit(1e9))), 10_000, "floats are never pruned (NaN ordering)");
    assert_eq!(read(col("k").is_null()), 0, "no nulls in k");
    assert_eq!(read(col("k").neq(lit(3i64))), 10_000);

    // The plan pushes the filter into the scan and the answer equals the in-memory one.
    for device in [Device::Cpu, Device::Sim] {
        let q = |lf: LazyFrame| {
            lf.filter(col("k").gt_eq(lit(7000i64)).and(col("s").lt(lit("s00500"))))
                .aggregate([col("v").sum().alias("sv"), col("k").len().alias("n")])
        };
        let scan = q(LazyFrame::scan_parquet(&path, ParquetReadOptions::default(), device).unwrap());
        let plan = scan.explain().unwrap();
        assert!(plan.contains("SKIP ROW GROUPS UNLESS"), "{plan}");
        let got = scan.collect().unwrap().to_record_batch().unwrap();
        let want = q(df.clone().lazy()).collect().unwrap().to_record_batch().unwrap();
        assert_eq!(got, want, "{device}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A file whose columns' pages end at different rows (a 4 KiB byte limit per page, written in
/// batches of 97 rows), three row groups, nulls: `k` ascending i64, `s` ascending strings, `g`
/// unordered i32 with nulls, `d` ascending dates, `b` bools.
fn paged_file(path: &Path, dictionary: bool, v2: bool) -> DataFrame {
    use arrow::array::{BooleanArray, Date32Array, Int32Array, Int64Array, StringArray};
    use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
    use std::sync::Arc;
    let n = 20_000i64;
    let batch = RecordBatch::try_from_iter([
        ("k", Arc::new(Int64Array::from_iter_values(0..n)) as ArrayRef),
        ("s", Arc::new(StringArray::from_iter_values((0..n).map(|i| format!("name-{i:06}"))))),
        ("g", Arc::new(Int32Array::from_iter((0..n).map(|i| (i % 11 != 0).then_some((i * 7919 % 1000) as i32))))),
        ("d", Arc::new(Date32Array::from_iter_values((0..n).map(|i| 10_000 + (i / 20) as i32)))),
        ("b", Arc::new(BooleanArray::from_iter((0..n).map(|i| (i % 13 != 0).then_some(i % 3 == 0))))),
    ])
    .unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(8000))
        .set_data_page_size_limit(4096)
        .set_write_batch_size(97)
        .set_dictionary_enabled(dictionary)
        // (v2's default delta encodings would fit a whole group of `k` in one page.)
        .set_encoding(parquet::basic::Encoding::PLAIN)
        .set_writer_version(if v2 { WriterVersion::PARQUET_2_0 } else { WriterVersion::PARQUET_1_0 })
        .set_statistics_enabled(EnabledStatistics::Page)
        .build();
    let mut w = parquet::arrow::ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), Some(props))
        .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    DataFrame::from_record_batch(&batch).unwrap()
}

/// The page index narrows a filtered read to the rows of the pages whose statistics may match:
/// on the CPU reader and the GPU decoder alike (the same rows), every predicate's answer equal
/// to filtering the whole file, and the GPU uploading fewer page bytes.
#[test]
fn pages_are_skipped_by_the_page_index_on_both_decoders() {
    let dir = temp_dir("pages");
    let k = |v: i64| lit(v);
    // (predicate, most rows the pages may keep when plain-encoded, thrice that with dictionary
    // indices (packed tighter, so longer pages); None when nothing can be skipped)
    let cases: Vec<(Expr, Option<usize>)> = vec![
        (col("k").gt_eq(k(5000)).and(col("k").lt(k(5300))), Some(1600)),
        (col("k").eq(k(12_345)), Some(900)),
        (col("k").lt(k(100)).or(col("k").gt(k(19_900))), Some(1500)),
        (col("s").lt(lit("name-000300")), Some(1000)),
        (col("d").eq(ember::expr::date("1998-10-01").unwrap()).and(col("g").gt(lit(500i32))), Some(2100)),
        (col("k").gt_eq(k(3000)).and(col("g").is_null()), Some(17_600)),
        (col("b").eq(lit(true)), None),
        (col("k").lt(k(50)).or(col("g").eq(lit(3i32))), None),
        (col("k").gt(k(100_000)), Some(0)),
    ];
    for (dictionary, v2) in [(false, false), (true, false), (false, true), (true, true)] {
        let path = dir.join(format!("p-{dictionary}-{v2}.parquet"));
        let df = paged_file(&path, dictionary, v2);
        for (p, most) in &cases {
            let case = format!("dictionary {dictionary}, v2 {v2}: {p}");
            let opts = ParquetReadOptions::default().with_predicate(p.clone());
            let cpu = ember::read_parquet(&path, &opts).unwrap();
            match most {
                Some(m) => {
                    assert!(cpu.num_rows() <= m * (1 + 2 * dictionary as usize), "{case}: {} rows", cpu.num_rows())
                }
                None => assert_eq!(cpu.num_rows(), 20_000, "{case}"),
            }
            let want = df.filter(p.clone()).unwrap().to_record_batch().unwrap();
            assert_same(&case, &cpu.filter(p.clone()).unwrap(), &want);
            // The rows kept are whole runs of the file's rows, in order.
            let ks = cpu.column("k").unwrap().to_arrow().unwrap();
            let ks = ks.as_any().downcast_ref::<arrow::array::Int64Array>().unwrap();
            let runs = ks.values().windows(2).filter(|w| w[1] != w[0] + 1).count();
            assert!(ks.values().windows(2).all(|w| w[0] < w[1]) && runs <= 2, "{case}: {runs} gaps");
            let cpu = cpu.to_record_batch().unwrap();
            for device in common::gpu_devices() {
                let ctx = ember::gpu::ExecContext::new(device.gpu().unwrap().unwrap());
                let gpu = ember::io::read_parquet_on(&path, &opts, device, Some(&ctx)).unwrap();
                assert_same(&format!("{case}, {device}"), &gpu.to(Device::Cpu).unwrap(), &cpu);
                if most.is_some_and(|m| m > 0 && m < 2000) {
                    let all = ember::gpu::ExecContext::new(device.gpu().unwrap().unwrap());
                    ember::io::read_parquet_on(&path, &ParquetReadOptions::default(), device, Some(&all)).unwrap();
                    let (some, whole) = (ctx.trace().htod_bytes, all.trace().htod_bytes);
                    // (A dictionary-encoded chunk's dictionary is uploaded whole.)
                    let factor = if dictionary { 1 } else { 4 };
                    assert!(some * factor < whole, "{case}: {some} bytes uploaded, {whole} for the whole file");
                }
            }
        }
    }
    // The chunked reader cuts a row group larger than its budget into row ranges (pages skipped
    // by the page index), in file order, with or without a predicate.
    let path = dir.join("p-false-false.parquet");
    let df = paged_file(&path, false, false);
    for p in [None, Some(col("k").gt_eq(k(5000)).and(col("k").lt(k(17_000))))] {
        let opts = ParquetReadOptions { predicate: p.clone(), ..Default::default() };
        let whole = ember::read_parquet(&path, &opts).unwrap();
        let chunks: Vec<DataFrame> = ParquetChunks::new(&path, &opts, 40 << 10).unwrap().map(|c| c.unwrap()).collect();
        assert!(chunks.len() >= 6, "{p:?}: {} chunks", chunks.len());
        assert!(chunks.iter().all(|c| c.num_rows() <= 4000), "{p:?}");
        assert_same("chunks", &ember::concat(&chunks).unwrap(), &whole.to_record_batch().unwrap());
        if let Some(p) = p {
            assert_same(
                "filtered chunks",
                &ember::concat(&chunks).unwrap().filter(p.clone()).unwrap(),
                &df.filter(p).unwrap().to_record_batch().unwrap(),
            );
        }
    }
    // A file without a page index (pyarrow's default before 2024, duckdb's) prunes row groups only.
    let plain = dir.join("no-index.parquet");
    let df = numbers(3000);
    ember::write_parquet(&df, &plain, &ParquetWriteOptions::default().with_statistics(false)).unwrap();
    let opts = ParquetReadOptions::default().with_predicate(col("k").lt(k(10)));
    assert_eq!(ember::read_parquet(&plain, &opts).unwrap().num_rows(), 3000);
    // Our writer's pages: `with_page_rows` caps them, and a filtered read keeps one page.
    let small = dir.join("small-pages.parquet");
    ember::write_parquet(&df, &small, &ParquetWriteOptions::default().with_page_rows(100)).unwrap();
    let opts = ParquetReadOptions::default().with_predicate(col("k").gt_eq(k(1234)).and(col("k").lt(k(1250))));
    let got = ember::read_parquet(&small, &opts).unwrap();
    assert_eq!(got.num_rows(), 100, "the page of rows 1200..1300");
    assert!(ember::write_parquet(&df, &small, &ParquetWriteOptions::default().with_page_rows(0)).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A read that would decode to more than the memory limit is refused before any page is read,
/// naming its largest row group and column, on both decoders; the chunked reader checks each
/// chunk, so a budget under the limit reads the same file whole.
#[test]
fn reads_over_the_memory_limit_are_refused_before_decoding() {
    let dir = temp_dir("memory");
    let path = dir.join("n.parquet");
    let df = numbers(10_000);
    ember::write_parquet(&df, &path, &ParquetWriteOptions::default().with_row_group_size(1000)).unwrap();
    let tight = ParquetReadOptions::default().with_memory_limit(50_000);
    for device in [Device::Cpu, Device::Sim] {
        let err = ember::io::read_parquet_on(&path, &tight, device, None).unwrap_err();
        let Error::Read { path: p, at, message } = &err else { panic!("{device}: {err:?}") };
        assert!(p.ends_with("n.parquet") && at.row_group.is_some(), "{err}");
        assert_eq!(at.column.as_deref(), Some("s"), "the widest column: {err}");
        assert!(message.contains("more than the memory limit (50000 bytes"), "{err}");
    }
    // Fewer columns fit; so does a larger limit; and the default (the memory available).
    let k_only = tight.clone().with_columns(["k"]).with_row_groups([0, 1, 2]);
    assert_eq!(ember::read_parquet(&path, &k_only).unwrap().num_rows(), 3000);
    let roomy = ParquetReadOptions::default().with_memory_limit(10 << 20);
    assert_eq!(ember::read_parquet(&path, &roomy).unwrap().num_rows(), 10_000);
    assert_eq!(ember::read_parquet(&path, &ParquetReadOptions::default()).unwrap().num_rows(), 10_000);
    let chunks: Vec<DataFrame> = ParquetChunks::new(&path, &tight, 20_000).unwrap().map(|c| c.unwrap()).collect();
    assert_same("chunks under the limit", &ember::concat(&chunks).unwrap(), &df.to_record_batch().unwrap());
    let over = ParquetChunks::new(&path, &ParquetReadOptions::default().with_memory_limit(1000), 1 << 20).unwrap();
    assert!(over.map(|c| c.unwrap_err()).all(|e| e.to_string().contains("memory limit")));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn writer_options_datasets_row_group_selection_and_limits() {
    use ember::io::Compression;
    let dir = temp_dir("write");
    let df = numbers(3000);
    for (i, c) in [
        Compression::Uncompressed,
        Compression::Snappy,
        Compression::Zstd(3),
        Compression::Lz4Raw,
        Compression::Gzip(6),
    ]
    .into_iter()
    .enumerate()
    {
        let opts = ParquetWriteOptions::default()
            .with_compression(c)
            .with_dictionary(i % 2 == 0)
            .with_statistics(i != 1)
            .with_row_group_size(1000);
        ember::write_parquet(&df, dir.join(format!("part-{i}.parquet")), &opts).unwrap();
    }
    let one = ember::read_parquet(dir.join("part-2.parquet"), &ParquetReadOptions::default()).unwrap();
    for c in ["k", "v", "s"] {
        assert_eq!(
            one.column(c).unwrap().to_arrow().unwrap().to_data(),
            df.column(c).unwrap().to_arrow().unwrap().to_data()
        );
    }
    // No temporary file is left behind.
    let names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
    assert!(names.iter().all(|n| n.starts_with("part-")), "{names:?}");

    let all = ember::read_parquet(&dir, &ParquetReadOptions::default()).unwrap();
    assert_eq!(all.num_rows(), 15_000, "a directory is one dataset");
    let some = ember::read_parquet(
        dir.join("part-0.parquet"),
        &ParquetReadOptions::default().with_row_groups([2, 0]).with_columns(["k"]),
    )
    .unwrap();
    assert_eq!(some.num_rows(), 2000);
    assert_eq!(some.num_columns(), 1);
    let none = ember::read_parquet(&dir, &ParquetReadOptions::default().with_columns(Vec::<String>::new())).unwrap();
    assert_eq!((none.num_rows(), none.num_columns()), (15_000, 0), "no columns still counts rows");
    let head = ember::read_parquet(&dir, &ParquetReadOptions::default().with_n_rows(10)).unwrap();
    assert_eq!(head.num_rows(), 1000, "whole row groups up to n_rows (the caller slices)");
    let e = ember::read_parquet(dir.join("part-0.parquet"), &ParquetReadOptions::default().with_row_groups([9]));
    assert!(e.unwrap_err().to_string().contains("row group 9"));
    assert_eq!(ember::io::parquet_row_groups(dir.join("part-1.parquet")).unwrap(), vec![1000; 3]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_files_are_typed_errors_naming_the_file() {
    let dir = temp_dir("bad");
    let path = dir.join("good.parquet");
    ember::write_parquet(&numbers(5000), &path, &ParquetWriteOptions::default().with_row_group_size(1000)).unwrap();
    let bytes = std::fs::read(&path).unwrap();

    let write = |name: &str, data: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, data).unwrap();
        p
    };
    let cases = [
        ("empty.parquet", Vec::new()),
        ("magic.parquet", [b"XXXX".as_slice(), &bytes[4..]].concat()),
        ("truncated.parquet", bytes[..bytes.len() / 2].to_vec()),
        ("footer.parquet", {
            let mut b = bytes.clone();
            let n = b.len();
            b[n - 8..n - 4].copy_from_slice(&(u32::MAX / 2).to_le_bytes()); // footer length past the file
            b
        }),
    ];
    for (name, data) in cases {
        let p = write(name, &data);
        let e = match ember::read_parquet(&p, &ParquetReadOptions::default()) {
            Ok(df) => panic!("{name}: read {} rows", df.num_rows()),
            Err(e) => e,
        };
        assert!(matches!(e, Error::Read { .. }), "{name}: {e:?}");
        assert!(e.to_string().starts_with(&p.display().to_string()), "{name}: {e}");
        let e = ember::io::parquet_row_groups(&p).unwrap_err();
        assert!(matches!(e, Error::Read { .. }), "footer only, {name}: {e:?}");
        assert!(e.to_string().starts_with(&p.display().to_string()), "footer only, {name}: {e}");
    }
    // The footer of a 5-row-group file on the body of its first half: the later row groups'
    // column chunks lie past the end. Reading them is an error naming the row group and column;
    // the first row group, whose chunks are all there, still reads (only its bytes are read).
    {
        let footer_len = u32::from_le_bytes(bytes[bytes.len() - 8..bytes.len() - 4].try_into().unwrap()) as usize;
        let footer = &bytes[bytes.len() - 8 - footer_len..];
        let p = write("short.parquet", &[&bytes[..bytes.len() / 2], footer].concat());
        // The whole file: some error (a middle group's chunk holds footer bytes; tasks race).
        let e = ember::read_parquet(&p, &ParquetReadOptions::default()).unwrap_err();
        assert!(matches!(e, Error::Read { .. }) && e.to_string().contains("column"), "{e:?}");
        // The last group lies wholly past the end: that error, on either decoder.
        let last = ParquetReadOptions::default().with_row_groups([4]);
        let e = ember::read_parquet(&p, &last).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, Error::Read { .. }), "{e:?}");
        assert!(msg.contains("runs past the end") && msg.contains("column") && msg.contains("row group 4"), "{msg}");
        let e = ember::io::read_parquet_on(&p, &last, Device::Sim, None).unwrap_err();
        assert!(e.to_string().contains("runs past the end"), "the GPU decoder: {e}");
        let first = ember::read_parquet(&p, &ParquetReadOptions::default().with_row_groups([0])).unwrap();
        assert_eq!(first.num_rows(), 1000);
    }
    // Corrupt page bytes in the middle: an error naming the column (or, where the codec cannot
    // tell, values decoded from the bytes as they are) — never a panic.
    for pos in (8..bytes.len() - 200).step_by(997) {
        let mut b = bytes.clone();
        for x in &mut b[pos..pos + 16] {
            *x ^= 0x5A;
        }
        let p = write("corrupt.parquet", &b);
        if let Err(e) = ember::read_parquet(&p, &ParquetReadOptions::default()) {
            assert!(matches!(e, Error::Read { .. } | Error::Arrow(_)), "byte {pos}: {e:?}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A decompression bomb: a gzip page whose header declares a quarter of what its stream inflates
/// to. Both decoders refuse it before inflating it (the `parquet` crate would inflate the whole
/// stream first), naming the file, row group, column and page.
#[test]
fn decompression_bombs_are_typed_errors_on_both_decoders() {
    let dir = temp_dir("bomb");
    let path = dir.join("gzip.parquet");
    // One byte of entropy per 8-byte value: gzip shrinks a page a few times (not a thousand), so
    // the page could inflate to far more than its patched header declares.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let values = arrow::array::Int64Array::from_iter_values((0..131_072).map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 56) as i64
    }));
    let batch = RecordBatch::try_from_iter([("z", std::sync::Arc::new(values) as ArrayRef)]).unwrap();
    let df = DataFrame::from_record_batch(&batch).unwrap();
    let opts = ParquetWriteOptions::default().with_compression(ember::io::Compression::Gzip(6)).with_dictionary(false);
    ember::write_parquet(&df, &path, &opts).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    assert_eq!(ember::read_parquet(&path, &ParquetReadOptions::default()).unwrap().num_rows(), 131_072);

    // The first page header follows the magic: field 1 (type 0) = 0x15 0x00, then field 2's
    // zigzag varint: the page's uncompressed size.
    assert_eq!(&bytes[4..7], &[0x15, 0x00, 0x15]);
    let declared = |b: &[u8]| {
        let (mut v, mut n) = (0u64, 0);
        while b[7 + n] & 0x80 != 0 {
            v |= u64::from(b[7 + n] & 0x7f) << (7 * n);
            n += 1;
        }
        v |= u64::from(b[7 + n]) << (7 * n);
        (v >> 1, n + 1)
    };
    let (real, len) = declared(&bytes);
    assert!(real > 100_000, "{real}");
    // The same field declaring a quarter, in as many varint bytes (non-minimal is valid).
    let small = real / 4;
    for i in 0..len {
        let seven = (((small << 1) >> (7 * i)) & 0x7f) as u8;
        bytes[7 + i] = if i + 1 < len { seven | 0x80 } else { seven };
    }
    assert_eq!(declared(&bytes), (small, len));
    let bomb = dir.join("bomb.parquet");
    std::fs::write(&bomb, &bytes).unwrap();
    for device in [Device::Cpu, Device::Sim] {
        let e = ember::io::read_parquet_on(&bomb, &ParquetReadOptions::default(), device, None).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, Error::Read { .. }), "{device:?}: {e:?}");
        assert!(msg.starts_with(&bomb.display().to_string()), "{device:?}: {msg}");
        assert!(msg.contains("decompression bomb") && msg.contains(&format!("past the {small} bytes")), "{msg}");
        assert!(msg.contains("row group 0") && msg.contains("page 0") && msg.contains('z'), "{device:?}: {msg}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Random columns with nulls at sizes around the block size, dictionary and plain, pages v1 and
/// small pages: the GPU decoder equals the CPU reader, decodes on the device (the trace shows its
/// kernels, not a fallback upload). (A corrupt dictionary index: `parquet/gpu.rs`'s unit test.)
#[test]
fn gpu_decoder_equals_cpu_reader_on_random_columns() {
    use arrow::array::{BooleanArray, Decimal128Array, Float64Array, Int32Array, Int64Array, StringArray};
    use std::sync::Arc;
    let dir = temp_dir("gpu");
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for n in [0usize, 1, 255, 256, 257, 3000] {
        let mut r = |m: u64| next() % m;
        let nulls: Vec<bool> = (0..n).map(|_| r(5) == 0).collect();
        let pick = |v: Vec<Option<i64>>| v;
        let i64s = pick((0..n).map(|i| (!nulls[i]).then(|| (r(1000) as i64) - 500)).collect());
        let batch = RecordBatch::try_from_iter([
            ("i64", Arc::new(Int64Array::from(i64s.clone())) as ArrayRef),
            ("i32", Arc::new(Int32Array::from_iter((0..n).map(|i| (i % 3 != 0).then_some(i as i32 * 7 - 100))))),
            ("f64", Arc::new(Float64Array::from_iter((0..n).map(|i| (i % 4 != 1).then_some(i as f64 / 3.0))))),
            ("b", Arc::new(BooleanArray::from_iter((0..n).map(|i| (i % 5 != 2).then_some(i % 3 == 0))))),
            ("s", Arc::new(StringArray::from_iter((0..n).map(|i| (i % 6 != 4).then(|| format!("v{}", i % 37)))))),
            ("long", Arc::new(StringArray::from_iter_values((0..n).map(|i| "x".repeat(i % 50))))),
            (
                "d",
                Arc::new(
                    Decimal128Array::from_iter((0..n).map(|i| (i % 7 != 3).then_some(i as i128 * 1_000_003 - 7)))
                        .with_precision_and_scale(30, 4)
                        .unwrap(),
                ),
            ),
        ])
        .unwrap();
        let df = DataFrame::from_record_batch(&batch).unwrap();
        for (k, dictionary) in [true, false].into_iter().enumerate() {
            let path = dir.join(format!("r{n}-{k}.parquet"));
            let opts = ParquetWriteOptions::default().with_dictionary(dictionary).with_row_group_size(1000);
            ember::write_parquet(&df, &path, &opts).unwrap();
            let cpu = ember::read_parquet(&path, &ParquetReadOptions::default()).unwrap().to_record_batch().unwrap();
            for device in common::gpu_devices() {
                let ctx = ember::gpu::ExecContext::new(device.gpu().unwrap().unwrap());
                let gpu =
                    ember::io::read_parquet_on(&path, &ParquetReadOptions::default(), device, Some(&ctx)).unwrap();
                assert_same(
                    &format!("{n} rows, dictionary {dictionary}, {device}"),
                    &gpu.to(Device::Cpu).unwrap(),
                    &cpu,
                );
                let t = ctx.trace();
                if n > 0 {
                    let takes = t.kernels.iter().filter(|l| l.kernel.starts_with("parquet::pq_take")).count();
                    assert_eq!(takes, 5, "i64, i32, f64, bool, decimal decoded on the device: {t}");
                    assert!(t.kernels.iter().any(|l| l.kernel == "parquet::pq_str_copy"), "{t}");
                }
            }
        }
    }

    std::fs::remove_dir_all(&dir).unwrap();
}

/// BYTE_STREAM_SPLIT (float, double, int32), DELTA_BINARY_PACKED (int32, int64, a decimal
/// stored as INT64), DELTA_LENGTH_BYTE_ARRAY and DELTA_BYTE_ARRAY (utf8) pages, v1 and v2, many
/// pages and blocks, nulls, extreme values (64-bit deltas that wrap), empty and multi-byte
/// strings, common prefixes that end inside a character: the GPU decoder decodes them on the
/// device (no CPU fallback) and equals the CPU reader.
#[test]
fn gpu_decoder_reads_split_and_delta_pages() {
    use arrow::array::{Decimal128Array, Float32Array, Float64Array, Int32Array, Int64Array, StringArray};
    use parquet::basic::Encoding;
    // Empty, ASCII and multi-byte strings of varied lengths.
    let word = |x: u64, i: usize| match i % 7 {
        0 => String::new(),
        1 => "ünïcødé→✓".repeat((x % 4) as usize),
        _ => format!("w{}", x % 100_000).repeat(1 + (x % 3) as usize),
    };
    use parquet::file::properties::{WriterProperties, WriterVersion};
    use std::sync::Arc;
    let dir = temp_dir("gpu-enc");
    for n in [0usize, 1, 127, 129, 1000, 4099] {
        let mut x = 0x853C_49E6_748F_EA9Bu64 ^ n as u64;
        let mut r = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let v: Vec<u64> = (0..n).map(|_| r()).collect();
        let i64s: Vec<Option<i64>> = (0..n)
            .map(|i| match i % 9 {
                1 => None,
                2 => Some(i64::MIN),
                3 => Some(i64::MAX),
                4 => Some(v[i] as i64),
                _ => Some(i as i64 * 3 - 40 + (v[i] % 5) as i64),
            })
            .collect();
        let batch = RecordBatch::try_from_iter([
            ("i64", Arc::new(Int64Array::from(i64s)) as ArrayRef),
            ("i32", Arc::new(Int32Array::from_iter((0..n).map(|i| (i % 4 != 1).then_some(v[i] as i32))))),
            ("seq", Arc::new(Int32Array::from_iter_values((0..n).map(|i| i as i32 * 2)))),
            ("f64", Arc::new(Float64Array::from_iter((0..n).map(|i| (i % 5 != 2).then_some(v[i] as f64 / 7.0))))),
            ("f32", Arc::new(Float32Array::from_iter_values((0..n).map(|i| (v[i] % 1000) as f32 - 0.5)))),
            (
                "dec",
                Arc::new(
                    Decimal128Array::from_iter((0..n).map(|i| (i % 6 != 0).then_some((v[i] % 1_000_000_000) as i128)))
                        .with_precision_and_scale(15, 2)
                        .unwrap(),
                ),
            ),
            ("s", Arc::new(StringArray::from_iter((0..n).map(|i| (i % 5 != 3).then(|| word(v[i], i)))))),
            ("sp", Arc::new(StringArray::from_iter((0..n).map(|i| (i % 4 != 2).then(|| format!("key-{:08}", i / 3)))))),
            (
                "sp2",
                Arc::new(StringArray::from_iter((0..n).map(|i| {
                    // "é" and "è" share their first byte: prefixes that end inside a character.
                    (i % 6 != 4).then(|| format!("pr{}{}", ["é", "è", "ê", ""][i % 4], "x".repeat((v[i] % 5) as usize)))
                }))),
            ),
        ])
        .unwrap();
        for version in [WriterVersion::PARQUET_1_0, WriterVersion::PARQUET_2_0] {
            let props = WriterProperties::builder()
                .set_writer_version(version)
                .set_dictionary_enabled(false)
                .set_data_page_row_count_limit(300)
                .set_write_batch_size(100)
                .set_max_row_group_row_count(Some(2000))
                .set_column_encoding("i64".into(), Encoding::DELTA_BINARY_PACKED)
                .set_column_encoding("i32".into(), Encoding::DELTA_BINARY_PACKED)
                .set_column_encoding("seq".into(), Encoding::BYTE_STREAM_SPLIT)
                .set_column_encoding("dec".into(), Encoding::DELTA_BINARY_PACKED)
                .set_column_encoding("f64".into(), Encoding::BYTE_STREAM_SPLIT)
                .set_column_encoding("f32".into(), Encoding::BYTE_STREAM_SPLIT)
                .set_column_encoding("s".into(), Encoding::DELTA_LENGTH_BYTE_ARRAY)
                .set_column_encoding("sp".into(), Encoding::DELTA_BYTE_ARRAY)
                .set_column_encoding("sp2".into(), Encoding::DELTA_BYTE_ARRAY)
                .build();
            let path = dir.join(format!("e{n}-{version:?}.parquet"));
            let file = std::fs::File::create(&path).unwrap();
            let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
            w.write(&batch).unwrap();
            w.close().unwrap();
            let cpu = ember::read_parquet(&path, &ParquetReadOptions::default()).unwrap().to_record_batch().unwrap();
            assert_same(&format!("cpu, {n} rows, {version:?}"), &DataFrame::from_record_batch(&batch).unwrap(), &cpu);
            for device in common::gpu_devices() {
                let ctx = ember::gpu::ExecContext::new(device.gpu().unwrap().unwrap());
                let gpu =
                    ember::io::read_parquet_on(&path, &ParquetReadOptions::default(), device, Some(&ctx)).unwrap();
                assert_same(&format!("{n} rows, {version:?}, {device}"), &gpu.to(Device::Cpu).unwrap(), &cpu);
                let t = ctx.trace();
                if n > 1 {
                    // (At one row the decimal is null: no values to decode.)
                    let takes = t.kernels.iter().filter(|l| l.kernel.starts_with("parquet::pq_take")).count();
                    assert_eq!(takes, 6, "every column decoded on the device: {t}");
                    let count = |k: &str| t.kernels.iter().filter(|l| l.kernel == k).count();
                    // Three integer columns, and the utf8 column's lengths.
                    assert_eq!(count("parquet::pq_delta_finish"), 4, "{t}");
                    assert_eq!(count("parquet::pq_bss_merge"), 3, "{t}");
                    assert_eq!(count("parquet::pq_dlba_fill"), 1, "{t}");
                    assert_eq!(count("parquet::pq_dba_fill"), 2, "{t}");
                    assert_eq!(count("parquet::pq_str_copy"), 3, "every utf8 column on the device: {t}");
                }
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Decimals of every storage (INT32 for precision 9, INT64 for 15, fixed bytes for 38), with
/// nulls and across the reader's parallel widening parts (64K rows) and row groups: read back as
/// `Decimal128` with their precision and scale and the same values; row-group statistics of the
/// INT64 column prune exactly; the GPU decoder (Sim) agrees on a smaller file.
#[test]
fn decimals_of_every_storage_read_back_exactly() {
    use arrow::array::Decimal128Array;
    use std::sync::Arc;
    let dir = temp_dir("decimals");
    for n in [2_000usize, 150_001] {
        let dec = |p: u8, s: i8, f: &dyn Fn(usize) -> Option<i128>| -> ArrayRef {
            Arc::new(Decimal128Array::from_iter((0..n).map(f)).with_precision_and_scale(p, s).unwrap())
        };
        let batch = RecordBatch::try_from_iter([
            ("d9", dec(9, 2, &|i| (i % 11 != 4).then_some(i as i128 * 37 - 99_999))),
            ("d15", dec(15, 2, &|i| (i % 7 != 3).then_some(i as i128 * 1_000_003 - 7))),
            ("d38", dec(38, 4, &|i| (i % 5 != 1).then_some((i as i128 - 70_000) * 10i128.pow(30)))),
        ])
        .unwrap();
        let df = DataFrame::from_record_batch(&batch).unwrap();
        let path = dir.join(format!("d{n}.parquet"));
        ember::write_parquet(&df, &path, &ParquetWriteOptions::default().with_row_group_size(70_000)).unwrap();
        let got = ember::read_parquet(&path, &ParquetReadOptions::default()).unwrap();
        for (name, p, s) in [("d9", 9, 2), ("d15", 15, 2), ("d38", 38, 4)] {
            let ours = got.column(name).unwrap().to_arrow().unwrap();
            assert_eq!(ours.data_type(), &arrow::datatypes::DataType::Decimal128(p, s), "{n} rows, {name}");
        }
        assert_same(&format!("{n} rows"), &got, &batch);
        // Statistics: d15 grows with the row number; `d15 <` its value at row 70 000 excludes
        // every row group but the first (70 000 rows, all of them below the bound).
        let bound = Scalar::Decimal128 { value: 70_000 * 1_000_003 - 7, precision: 15, scale: 2 };
        let opts = ParquetReadOptions::default().with_predicate(col("d15").lt(lit(bound)));
        let kept = ember::read_parquet(&path, &opts).unwrap();
        assert_eq!(kept.num_rows(), n.min(70_000), "{n} rows: the row groups kept");
        assert_same(&format!("{n} rows, pruned"), &kept, &batch.slice(0, n.min(70_000)));
        if n <= 2_000 {
            for device in common::gpu_devices() {
                let gpu = ember::io::read_parquet_on(&path, &ParquetReadOptions::default(), device, None).unwrap();
                assert_same(&format!("{n} rows, {device}"), &gpu.to(Device::Cpu).unwrap(), &batch);
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

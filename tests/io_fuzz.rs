//! Seeded mutation tests of the readers, run on every CI build (the open-ended runs are the
//! `cargo fuzz` targets in `fuzz/`, docs/reliability.md): CSV and Parquet bytes with flipped,
//! inserted, deleted and truncated bytes through the CPU readers and the simulated-device
//! decoders. Neither may panic; a CSV read gives the same frame or the same error on both paths;
//! a Parquet read that succeeds on both gives the same frame.
mod common;
use ember::io::{read_csv_bytes, read_csv_bytes_on, read_parquet_on};
use ember::prelude::*;
use ember::{CsvReadOptions, ParquetWriteOptions};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A mutation of `seed`: 1-4 edits, biased towards the bytes CSV and Parquet care about.
fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(b.len() + 1);
        let special = [b'"', b',', b'\n', b'\r', b'-', b'.', b'0', b'9', 0xff, 0x00, b'e'];
        match rng.below(5) {
            0 if at < b.len() => b[at] ^= 1 << rng.below(8),
            1 => b.insert(at, special[rng.below(special.len())]),
            2 if at < b.len() => {
                b.remove(at);
            }
            3 => b.truncate(at),
            _ if at < b.len() => b[at] = special[rng.below(special.len())],
            _ => {}
        }
    }
    b
}

fn frames_equal(what: &str, cpu: &DataFrame, gpu: &DataFrame) {
    let (c, g) = (cpu.to_record_batch().unwrap(), gpu.to(Device::Cpu).unwrap().to_record_batch().unwrap());
    assert_eq!(c.num_rows(), g.num_rows(), "{what}");
    for k in 0..c.num_columns() {
        let ours = arrow::compute::cast(g.column(k), c.column(k).data_type()).unwrap();
        assert_eq!(ours.to_data(), c.column(k).to_data(), "{what}: column {}", c.schema().field(k).name());
    }
}

#[test]
fn mutated_csv_never_panics_and_both_paths_agree() {
    let seeds: [&[u8]; 5] = [
        b"id,price,day,flag,text\n1,21168.23,1996-03-13,true,\"a, b\"\n2,-0.5,2000-02-29,FALSE,\"q\"\"x\"\n3,,1992-01-01,,plain\n",
        b"a;b\r\n10;\"x\r\ny\"\r\n20;z\r\n",
        b"n,f\n1,1.5\n2,2.25\n3,1e3\n",
        b"x\n\"\"\n\"\"\"\"\n",
        // Only the types the CPU reader's fast path takes (csv/fast.rs).
        b"k,v,d,s\n1,-0.25,1996-03-13,\"a,\"\"b\"\"\n\"\n-7,12.5,2000-02-29,plain\n,,,\n42,.5,1970-01-01,\"\"\n",
    ];
    // `EMBER_FUZZ_ROUNDS` (3000) and `EMBER_FUZZ_SEED` (xored into the generator's seed).
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let mut rng = Rng(0x5EED_1234_ABCD_0001 ^ env("EMBER_FUZZ_SEED").unwrap_or(0));
    let mut checked = 0;
    for round in 0..env("EMBER_FUZZ_ROUNDS").unwrap_or(3000) as usize {
        let seed = seeds[round % seeds.len()];
        let data = mutate(seed, &mut rng);
        let opts =
            if round % 3 == 0 { CsvReadOptions::default().with_delimiter(b';') } else { CsvReadOptions::default() };
        let cpu = read_csv_bytes(&data, "m.csv", &opts);
        for device in common::gpu_devices() {
            let gpu = read_csv_bytes_on(&data, "m.csv", &opts, device, None);
            let what = format!("round {round} on {device}: {:?}", String::from_utf8_lossy(&data));
            match (&cpu, gpu) {
                (Ok(c), Ok(g)) => frames_equal(&what, c, &g),
                (Err(c), Err(g)) => assert_eq!(c.to_string(), g.to_string(), "{what}"),
                (c, g) => {
                    panic!("{what}: CPU {:?} vs GPU {:?}", c.as_ref().map(|d| d.num_rows()), g.map(|d| d.num_rows()))
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 400);
}

#[test]
fn mutated_parquet_never_panics_and_both_paths_agree() {
    let dir = std::env::temp_dir().join(format!("ember-io-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let df = read_csv_bytes(
        b"k,v,s,b\n1,1.5,x,true\n2,,yy,false\n3,3.25,,\n4,4.5,x,true\n",
        "seed.csv",
        &CsvReadOptions::default(),
    )
    .unwrap();
    let mut seeds = Vec::new();
    for (i, dictionary) in [true, false].into_iter().enumerate() {
        let p = dir.join(format!("seed{i}.parquet"));
        let opts = ParquetWriteOptions::default()
            .with_dictionary(dictionary)
            .with_compression(ember::io::Compression::Uncompressed)
            .with_row_group_size(2);
        ember::write_parquet(&df, &p, &opts).unwrap();
        seeds.push(std::fs::read(&p).unwrap());
    }
    // A page per row: the page index that filtered reads load and check against the pages.
    let p = dir.join("seed-pages.parquet");
    let opts = ParquetWriteOptions::default().with_compression(ember::io::Compression::Uncompressed).with_page_rows(1);
    ember::write_parquet(&df, &p, &opts).unwrap();
    let filtered = ParquetReadOptions::default().with_predicate(col("k").gt_eq(lit(3i64)));
    assert_eq!(ember::read_parquet(&p, &filtered).unwrap().num_rows(), 2, "pages skipped");
    seeds.push(std::fs::read(&p).unwrap());
    // The delta and split encodings, whose lengths the GPU decoder's host side reads (the
    // parquet crate's writer: ember's writes PLAIN and dictionary pages).
    {
        use parquet::basic::Encoding;
        use parquet::file::properties::WriterProperties;
        let batch = df.to_record_batch().unwrap();
        for (i, strings) in [Encoding::DELTA_BYTE_ARRAY, Encoding::DELTA_LENGTH_BYTE_ARRAY].into_iter().enumerate() {
            let props = WriterProperties::builder()
                .set_dictionary_enabled(false)
                .set_max_row_group_row_count(Some(2))
                .set_column_encoding("k".into(), Encoding::DELTA_BINARY_PACKED)
                .set_column_encoding("v".into(), Encoding::BYTE_STREAM_SPLIT)
                .set_column_encoding("s".into(), strings)
                .build();
            let mut bytes = Vec::new();
            let mut w = parquet::arrow::ArrowWriter::try_new(&mut bytes, batch.schema(), Some(props)).unwrap();
            w.write(&batch).unwrap();
            w.close().unwrap();
            let p = dir.join(format!("seed-delta{i}.parquet"));
            std::fs::write(&p, &bytes).unwrap();
            assert_eq!(
                ember::read_parquet(&p, &ParquetReadOptions::default()).unwrap().to_record_batch().unwrap(),
                batch
            );
            seeds.push(bytes);
        }
    }
    // Strings stored as string views (ember's own decoder reads them), v1 and v2 pages, snappy
    // and uncompressed, dictionary and plain, with nulls.
    {
        use parquet::basic::Compression;
        use parquet::file::properties::{WriterProperties, WriterVersion};
        let batch = df.to_record_batch().unwrap();
        let s = batch.schema().index_of("s").unwrap();
        let views = ember::arrow::compute::cast(batch.column(s), &ember::arrow::datatypes::DataType::Utf8View).unwrap();
        let mut fields: Vec<_> = batch.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
        fields[s] = fields[s].clone().with_data_type(ember::arrow::datatypes::DataType::Utf8View);
        let mut columns = batch.columns().to_vec();
        columns[s] = views;
        let batch = ember::arrow::record_batch::RecordBatch::try_new(
            std::sync::Arc::new(ember::arrow::datatypes::Schema::new(fields)),
            columns,
        )
        .unwrap();
        for (i, (codec, version, dictionary)) in [
            (Compression::UNCOMPRESSED, WriterVersion::PARQUET_1_0, true),
            (Compression::SNAPPY, WriterVersion::PARQUET_2_0, false),
        ]
        .into_iter()
        .enumerate()
        {
            let props = WriterProperties::builder()
                .set_compression(codec)
                .set_writer_version(version)
                .set_dictionary_enabled(dictionary)
                .set_encoding(parquet::basic::Encoding::PLAIN)
                .set_max_row_group_row_count(Some(3))
                .build();
            let mut bytes = Vec::new();
            let mut w = parquet::arrow::ArrowWriter::try_new(&mut bytes, batch.schema(), Some(props)).unwrap();
            w.write(&batch).unwrap();
            w.close().unwrap();
            let p = dir.join(format!("seed-views{i}.parquet"));
            std::fs::write(&p, &bytes).unwrap();
            let back = ember::read_parquet(&p, &ParquetReadOptions::default()).unwrap().to_record_batch().unwrap();
            assert_eq!(back.column(s).to_data(), batch.column(s).to_data());
            seeds.push(bytes);
        }
    }
    // `EMBER_FUZZ_ROUNDS` (3000) and `EMBER_FUZZ_SEED` (xored into the generator's seed) for
    // longer runs; a disagreement leaves its file as `m.parquet` in the temporary directory.
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let mut rng = Rng(0xFACE_FEED_0000_0002 ^ env("EMBER_FUZZ_SEED").unwrap_or(0));
    let path = dir.join("m.parquet");
    for round in 0..env("EMBER_FUZZ_ROUNDS").unwrap_or(3000) as usize {
        let data = mutate(&seeds[round % seeds.len()], &mut rng);
        std::fs::write(&path, &data).unwrap();
        // Every other read is filtered (statistics and the page index are read too).
        let opts = if round % 2 == 0 { ParquetReadOptions::default() } else { filtered.clone() };
        let cpu = ember::read_parquet(&path, &opts);
        for device in common::gpu_devices() {
            let gpu = read_parquet_on(&path, &opts, device, None);
            if let (Ok(c), Ok(g)) = (&cpu, gpu) {
                frames_equal(&format!("round {round} on {device}"), c, &g);
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Inputs `cargo fuzz` found: each is a typed error on every path, not a panic or an abort.
#[test]
fn fuzz_findings_are_errors() {
    // A dictionary-encoded page without a dictionary page: the parquet crate panics inside
    // ("Decoder for dict should have been set"); the reader turns that into Error::Read.
    // And a page header promising far more values than the row group's 4 rows: an error after
    // one batch, not minutes of decoding. And a page header declaring a huge list of binary
    // fields: the parquet crate's thrift skip stopped quietly at the end of the file each time
    // (minutes of empty skips); reads past the end are now errors (`parquet/strict.rs`).
    // And a FLOAT column whose chunk metadata says DOUBLE, over BYTE_STREAM_SPLIT pages of
    // 8-byte values: read as garbage by the crate and as zeros by the GPU decoder, until the
    // footer check refused it.
    for name in [
        "fuzz-dict-page-missing.parquet",
        "fuzz-page-values-past-rows.parquet",
        "fuzz-thrift-skip-past-end.parquet",
        "fuzz-split-width.parquet",
    ] {
        let start = std::time::Instant::now();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name);
        let cpu = ember::read_parquet(&path, &ParquetReadOptions::default());
        assert!(matches!(cpu, Err(Error::Read { .. })), "{name}: {cpu:?}");
        for device in common::gpu_devices() {
            let gpu = read_parquet_on(&path, &ParquetReadOptions::default(), device, None);
            assert!(matches!(gpu, Err(Error::Read { .. })), "{name} on {device}: {gpu:?}");
        }
        // A bound far above the few milliseconds it takes, far below the minutes it took.
        assert!(start.elapsed().as_secs() < 20, "{name} took {:?}", start.elapsed());
    }
}

/// Inputs the mutation loop found where the paths read different values: each now reads alike.
#[test]
fn fuzz_findings_read_alike() {
    // A data page header whose encoding (BYTE_STREAM_SPLIT) is an i16 field, not an i32: the
    // parquet crate (and so the GPU decoder's host side) reads it; ember's own header parser
    // skipped it and decoded the page as PLAIN (`EMBER_FUZZ_ROUNDS=20000`, round 18336).
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz-i16-encoding.parquet");
    let cpu = ember::read_parquet(&path, &ParquetReadOptions::default()).unwrap();
    let v = cpu.to_record_batch().unwrap().column_by_name("v").unwrap().clone();
    let want = ember::arrow::array::Float64Array::from(vec![Some(1.5), None, Some(3.25), Some(4.5)]);
    assert_eq!(v.to_data(), ember::arrow::array::Array::to_data(&want));
    for device in common::gpu_devices() {
        let gpu = read_parquet_on(&path, &ParquetReadOptions::default(), device, None).unwrap();
        frames_equal(&format!("fuzz-i16-encoding on {device}"), &cpu, &gpu);
    }
}

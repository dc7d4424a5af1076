//! The CSV reader: a table of hand-made edge cases, errors that name the line and column, the
//! parallel split against a one-piece read, byte ranges, write → read round trips, and the GPU
//! decoder (Sim, and CUDA with `EMBER_TEST_CUDA=1`) equal to the CPU reader.
mod common;
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Date32Type, Float64Type, Int64Type};
use ember::io::read_csv_bytes;
use ember::prelude::*;
use ember::{CsvReadOptions, CsvWriteOptions, Field};

fn read(data: &[u8], opts: &CsvReadOptions) -> DataFrame {
    read_csv_bytes(data, "t.csv", opts).unwrap_or_else(|e| panic!("{e}"))
}

fn batch(df: &DataFrame) -> RecordBatch {
    df.to_record_batch().unwrap()
}

fn strings(df: &DataFrame, c: &str) -> Vec<Option<String>> {
    let arr = df.column(c).unwrap().to_arrow().unwrap();
    let arr = arrow::compute::cast(&arr, &arrow::datatypes::DataType::Utf8).unwrap();
    arr.as_string::<i32>().iter().map(|v| v.map(str::to_string)).collect()
}

fn ints(df: &DataFrame, c: &str) -> Vec<Option<i64>> {
    let arr = df.column(c).unwrap().to_arrow().unwrap();
    arr.as_primitive::<Int64Type>().iter().collect()
}

fn err(data: &[u8], opts: &CsvReadOptions) -> String {
    match read_csv_bytes(data, "t.csv", opts) {
        Ok(df) => panic!("expected an error, read {} rows", df.num_rows()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn rfc4180_quoting_crlf_and_bom() {
    let data = b"\xEF\xBB\xBFid,text\r\n1,\"a, b\"\r\n2,\"say \"\"hi\"\"\"\r\n3,\"two\r\nlines\"\r\n4,plain\r\n";
    let df = read(data, &CsvReadOptions::default());
    assert_eq!(df.fields()[0].name, "id", "the BOM is not part of the first name");
    assert_eq!(ints(&df, "id"), vec![Some(1), Some(2), Some(3), Some(4)]);
    assert_eq!(
        strings(&df, "text"),
        vec![Some("a, b".into()), Some("say \"hi\"".into()), Some("two\r\nlines".into()), Some("plain".into())]
    );
}

#[test]
fn inference_nulls_and_types() {
    let data = b"i,f,s,d,b,e\n1,1.5,x,2024-02-29,true,\n,2,y,1970-01-01,False,\n3,-0.25,,2000-12-31,,\n";
    let df = read(data, &CsvReadOptions::default());
    let types: Vec<DType> = df.fields().iter().map(|f| f.dtype).collect();
    assert_eq!(types, vec![DType::Int64, DType::Float64, DType::Utf8, DType::Date32, DType::Bool, DType::Utf8]);
    let b = batch(&df);
    assert_eq!(ints(&df, "i"), vec![Some(1), None, Some(3)]);
    assert_eq!(b.column(1).as_primitive::<Float64Type>().values().to_vec(), vec![1.5, 2.0, -0.25]);
    assert_eq!(strings(&df, "s"), vec![Some("x".into()), Some("y".into()), None]);
    assert_eq!(b.column(3).as_primitive::<Date32Type>().values().to_vec(), vec![19782, 0, 11322]);
    assert_eq!(b.column(4).as_boolean().iter().collect::<Vec<_>>(), vec![Some(true), Some(false), None]);
    assert_eq!(b.column(5).null_count(), 3);
}

#[test]
fn options_delimiter_header_skip_comment_projection_limits() {
    let data = b"junk line\n# comment\na;b;c\n1;x;10\n# another\n2;y;20\n3;z;30\n";
    let opts = CsvReadOptions::default().with_delimiter(b';').with_skip_rows(1).with_comment(b'#');
    let df = read(data, &opts);
    assert_eq!(ints(&df, "a"), vec![Some(1), Some(2), Some(3)]);
    let df = read(data, &opts.clone().with_columns(["c", "a"]));
    let names: Vec<&str> = df.fields().iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, vec!["a", "c"], "file order");
    let df = read(data, &opts.clone().with_n_rows(2));
    assert_eq!(ints(&df, "c"), vec![Some(10), Some(20)]);

    let headerless = read(b"1,2\n3,4\n", &CsvReadOptions::default().with_header(false));
    assert_eq!(ints(&headerless, "column_2"), vec![Some(2), Some(4)]);
}

#[test]
fn explicit_schema_dtypes_null_and_bool_words() {
    let schema = vec![
        Field { name: "k".into(), dtype: DType::Utf8, nullable: true },
        Field { name: "v".into(), dtype: DType::Decimal128 { precision: 10, scale: 2 }, nullable: true },
        Field { name: "ok".into(), dtype: DType::Bool, nullable: true },
    ];
    let opts = CsvReadOptions::default()
        .with_schema(schema)
        .with_null_values(["NA", "-"])
        .with_bool_values(["yes", "Y"], ["no", "N"]);
    let df = read(b"k,v,ok\n007,1.25,yes\nNA,-,N\n-,3,no\n", &opts);
    assert_eq!(strings(&df, "k"), vec![Some("007".into()), None, None], "an explicit utf8 keeps leading zeros");
    assert_eq!(strings(&df, "v"), vec![Some("1.25".into()), None, Some("3.00".into())]);
    let b = batch(&df);
    assert_eq!(b.column(2).as_boolean().iter().collect::<Vec<_>>(), vec![Some(true), Some(false), Some(false)]);
    let e = err(b"k,v,ok\na,1,yes\nb,2,maybe\n", &opts);
    assert_eq!(e, "t.csv: line 3, column \"ok\": \"maybe\" is neither a true nor a false value");

    let df = read(b"a,b\n1,2\n", &CsvReadOptions::default().with_dtype("b", DType::Float64));
    assert_eq!(df.fields()[1].dtype, DType::Float64);
}

#[test]
fn bad_input_names_line_and_column() {
    let typed = CsvReadOptions::default().with_dtype("n", DType::Int64);
    assert_eq!(err(b"s,n\na,1\nb,two\n", &typed), "t.csv: line 3, column \"n\": \"two\" is not a valid int64");
    // Inferred types say so and how to fix it.
    let mut big = b"n\n".to_vec();
    for i in 0..20 {
        big.extend(format!("{i}\n").bytes());
    }
    big.extend(b"1.5\n");
    let e = err(&big, &CsvReadOptions::default().with_infer_schema_length(Some(10)));
    assert!(e.starts_with("t.csv: line 22, column \"n\": \"1.5\" is not a valid int64 (the type was inferred"), "{e}");
    // Overflow of the column's type.
    let e = err(b"n\n1\n99999999999999999999\n", &typed.clone().with_dtype("n", DType::Int64));
    assert!(e.contains("line 3") && e.contains("99999999999999999999"), "{e}");
    let e = err(b"a,b\n1,2\n3\n", &CsvReadOptions::default());
    assert!(e.starts_with("t.csv: line 3: ") && e.to_lowercase().contains("expected 2"), "ragged row: {e}");
    let e = err(b"a,b\n1,x\n2,\xff\xfe\n", &CsvReadOptions::default());
    assert!(e.starts_with("t.csv: line 3") && e.contains("UTF-8"), "{e}");
    // Lines count physical lines: a quoted newline earlier moves the bad value down.
    let e = err(b"s,n\n\"a\nb\",1\nc,x\n", &typed);
    assert!(e.starts_with("t.csv: line 4, column \"n\""), "{e}");
    // Lenient: nulls instead.
    let df = read(b"s,n\na,1\nb,two\n", &typed.clone().with_ignore_errors(true));
    assert_eq!(ints(&df, "n"), vec![Some(1), None]);
    // Missing columns and files.
    assert!(matches!(
        read_csv_bytes(b"a\n1\n", "t.csv", &CsvReadOptions::default().with_columns(["zz"])),
        Err(Error::ColumnNotFound { .. })
    ));
    let e = ember::read_csv("/nonexistent/x.csv", &CsvReadOptions::default()).unwrap_err();
    assert!(matches!(e, Error::Io { .. }) && e.to_string().starts_with("/nonexistent/x.csv: "), "{e}");
}

#[test]
fn empty_inputs() {
    let df = read(b"a,b\n", &CsvReadOptions::default());
    assert_eq!((df.num_rows(), df.num_columns()), (0, 2));
    let df = read(b"", &CsvReadOptions::default());
    assert_eq!(df.num_rows(), 0);
    let df = read(b"a\n1", &CsvReadOptions::default());
    assert_eq!(ints(&df, "a"), vec![Some(1)], "no newline at the end");
}

/// A CSV of `rows` records with quoted fields holding commas, quotes and newlines.
fn tricky_csv(rows: usize) -> Vec<u8> {
    let mut out = b"id,text,x\n".to_vec();
    for i in 0..rows {
        let text = match i % 5 {
            0 => format!("\"line {i}\nnext\""),
            1 => format!("\"q \"\"{i}\"\", ,\""),
            2 => String::new(),
            3 => format!("plain{i}"),
            _ => format!("\"{}\"", "z".repeat(i % 97)),
        };
        out.extend(format!("{i},{text},{}.5\n", i % 13).bytes());
    }
    out
}

#[test]
fn parallel_split_equals_one_piece_and_byte_ranges_cover_every_record() {
    let data = tricky_csv(300_000); // > 4 MiB: several pieces
    assert!(data.len() > 8 << 20, "{}", data.len());
    let whole = read(&data, &CsvReadOptions::default());
    let one = read(&data, &CsvReadOptions::default().with_n_rows(usize::MAX)); // n_rows: one piece
    assert_eq!(batch(&whole), batch(&one));
    assert_eq!(whole.num_rows(), 300_000);
    assert_eq!(strings(&whole, "text")[0], Some("line 0\nnext".into()));

    // A bad value in the last piece is found by line and column.
    let mut bad = data.clone();
    bad.extend(b"300000,tail,not-a-number\n");
    let line = bad.iter().filter(|&&b| b == b'\n').count();
    let opts = CsvReadOptions::default().with_dtype("x", DType::Float64);
    let e = read_csv_bytes(&bad, "t.csv", &opts).unwrap_err().to_string();
    assert_eq!(e, format!("t.csv: line {line}, column \"x\": \"not-a-number\" is not a valid float64"));

    // Consecutive byte ranges read every record exactly once, wherever they cut.
    let schema = whole.fields().to_vec();
    let opts = CsvReadOptions::default().with_schema(schema);
    let mut ids = Vec::new();
    let step = data.len() / 7 + 13;
    let mut at = 0;
    while at < data.len() {
        let part = read(&data, &opts.clone().with_byte_range(at, step));
        ids.extend(ints(&part, "id"));
        at += step;
    }
    assert_eq!(ids, (0..300_000).map(Some).collect::<Vec<_>>());
}

#[test]
fn write_then_read_round_trips() {
    let data = tricky_csv(1000);
    let df = read(&data, &CsvReadOptions::default());
    let path = std::env::temp_dir().join(format!("ember-io-csv-{}.csv", std::process::id()));
    ember::write_csv(&df, &path, &CsvWriteOptions::default()).unwrap();
    let back = ember::read_csv(&path, &CsvReadOptions::default().with_schema(df.fields().to_vec())).unwrap();
    assert_eq!(batch(&df), batch(&back));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn scan_csv_reads_only_used_columns_and_runs_on_every_device() {
    let path = std::env::temp_dir().join(format!("ember-io-scan-{}.csv", std::process::id()));
    std::fs::write(&path, tricky_csv(5000)).unwrap();
    let q = |device| {
        LazyFrame::scan_csv(&path, CsvReadOptions::default(), device)
            .unwrap()
            .filter(col("x").gt(lit(6.0)))
            .group_by([col("x")])
            .agg([col("id").sum().alias("s"), col("id").len().alias("n")])
            .sort([col("x")])
    };
    let plan = q(Device::Cpu).explain().unwrap();
    assert!(plan.contains("[id, x]"), "projection pushed into the CSV scan:\n{plan}");
    let cpu = q(Device::Cpu).collect().unwrap();
    let sim = q(Device::Sim).collect().unwrap().to(Device::Cpu).unwrap();
    assert_eq!(batch(&cpu), batch(&sim));
    assert_eq!(cpu.num_rows(), 7);
    let expected: i64 = (0..5000i64).filter(|i| i % 13 >= 6).sum();
    let total: i64 = ints(&cpu, "s").iter().map(|v| v.unwrap()).sum();
    assert_eq!(total, expected);
    std::fs::remove_file(&path).unwrap();
}

/// The GPU decoder against the CPU reader: the edge cases, a large tricky file, forms the fast
/// paths leave to the CPU (exponents, long mantissas, timestamps), and malformed input (the
/// CPU path's typed error).
#[test]
fn gpu_decoder_equals_cpu_reader() {
    let tpch_like = b"k,price,disc,flag,day,comment,big\n\
        1,21168.23,0.04,N,1996-03-13,\"egular, courts\",12\n\
        2,45983.16,0.09,R,1996-04-12,\"say \"\"hi\"\"\",-9223372036854775808\n\
        3,,0.10,,1992-02-29,,\n\
        4,-0.5,1,A,2000-12-31,plain,9223372036854775807\n";
    let dec = CsvReadOptions::default()
        .with_dtype("price", DType::Decimal128 { precision: 15, scale: 2 })
        .with_dtype("disc", DType::Float64);
    let cases: Vec<(Vec<u8>, CsvReadOptions)> = vec![
        (tpch_like.to_vec(), CsvReadOptions::default()),
        (tpch_like.to_vec(), dec.clone()),
        (tpch_like.to_vec(), dec.clone().with_columns(["comment", "k"])),
        (tpch_like.to_vec(), dec.clone().with_byte_range(40, 60)),
        (b"\xEF\xBB\xBFa,b\r\n1,x\r\n2,\"y\r\nz\"\r\n".to_vec(), CsvReadOptions::default()),
        (b"a;b\n1;2\n3;4".to_vec(), CsvReadOptions::default().with_delimiter(b';')),
        (b"a,b\n\"1\",true\n2,FALSE\n".to_vec(), CsvReadOptions::default().with_dtype("b", DType::Bool)),
        (b"x,y\n1e5,2.5E-3\n0.1000000000000000055511151231257827,3\n".to_vec(), CsvReadOptions::default()),
        (b"t,f\n2024-01-02T03:04:05,0.1\n2024-01-03T00:00:00.5,1.25\n".to_vec(), CsvReadOptions::default()),
        (b"i,s\n1,\xce\xbb\n2,\xe6\x97\xa5\n".to_vec(), CsvReadOptions::default().with_dtype("i", DType::Int8)),
        (b"q\n\"\"\n\"a\"\"\"\n".to_vec(), CsvReadOptions::default()),
        (b"a,b\n1,2\n".to_vec(), CsvReadOptions::default().with_quote(None)),
        // A byte-order mark starting a record mid-file is data (found by cargo fuzz).
        (b"s,n\n\xEF\xBB\xBFab,1\nb,2\n".to_vec(), CsvReadOptions::default()),
        // No quoting: NUL is the quote byte on every path (found by cargo fuzz).
        (b"\x02,\x00p\n".to_vec(), CsvReadOptions::default().with_header(false).with_quote(None)),
        (tricky_csv(20_000), CsvReadOptions::default()),
    ];
    for device in common::gpu_devices() {
        for (i, (data, opts)) in cases.iter().enumerate() {
            let cpu = read(data, opts);
            let ctx = ember::gpu::ExecContext::new(device.gpu().unwrap().unwrap());
            let gpu = ember::io::read_csv_bytes_on(data, "t.csv", opts, device, Some(&ctx))
                .unwrap_or_else(|e| panic!("case {i} on {device}: {e}"));
            assert_eq!(gpu.device(), device);
            let (c, g) = (batch(&cpu), batch(&gpu.to(Device::Cpu).unwrap()));
            assert_eq!(c.num_rows(), g.num_rows(), "case {i} on {device}");
            for (k, f) in c.schema().fields().iter().enumerate() {
                let ours = arrow::compute::cast(g.column(k), f.data_type()).unwrap();
                assert_eq!(ours.to_data(), c.column(k).to_data(), "case {i} on {device}: column {}", f.name());
            }
            if i == 1 {
                let t = ctx.trace();
                assert!(t.kernels.iter().any(|k| k.kernel == "csv::csv_parse_decimal"), "{t}");
            }
            // Every case here is the device's to decode (columns it cannot parse come from the CPU).
            let direct = ember::io::csv::decode_csv_on_gpu(&ctx, data, "t.csv", opts).unwrap();
            // (Case 13 holds an unterminated NUL quote: the CPU path's to read.)
            assert_eq!(direct.is_some(), i != 13, "case {i} on {device}: decoded on the device or not");
        }
        // Malformed input: the same typed errors as the CPU path.
        for (data, opts) in [
            (&b"a,b\n1,2\n3\n"[..], CsvReadOptions::default()),
            (&b"s,n\na,1\nb,two\n"[..], CsvReadOptions::default().with_dtype("n", DType::Int64)),
            (&b"n\n1\n99999999999999999999\n"[..], CsvReadOptions::default().with_dtype("n", DType::Int64)),
            (&b"a,b\n1,x\n2,\xff\xfe\n"[..], CsvReadOptions::default()),
            (&b"b\ntrue\nmaybe\n"[..], CsvReadOptions::default().with_dtype("b", DType::Bool)),
        ] {
            let ctx = ember::gpu::ExecContext::new(device.gpu().unwrap().unwrap());
            // Handed to the CPU path (or refused while inferring the layout), never decoded.
            assert!(!matches!(ember::io::csv::decode_csv_on_gpu(&ctx, data, "t.csv", &opts), Ok(Some(_))));
            let want = err(data, &opts);
            let got = ember::io::read_csv_bytes_on(data, "t.csv", &opts, device, None).unwrap_err().to_string();
            assert_eq!(got, want, "{device}");
        }
    }
}

//! The GPU CSV decoder (CUDA and the simulated device): the host decides the layout (header,
//! types, projection, byte range: `read.rs`'s `Layout`) and uploads the records' bytes; the
//! device splits records (per-chunk quote parity combined by a scan), finds each wanted field,
//! and parses every column into its typed buffer (`kernels/csv.cu` says how).
//!
//! The device takes: integers, floats, decimals, dates (`YYYY-MM-DD`), booleans and strings, with
//! the default null value (the empty field), no escape or comment character, no custom boolean
//! words and no lenient parsing. Floats parse to the CPU path's bits by Clinger's fast path;
//! a value in a form the fast paths do not take marks its column, and that column is parsed
//! on the CPU and uploaded. Timestamps are parsed on the CPU for now. Malformed input (a
//! ragged or blank record, bad UTF-8, an integer overflow, a bad boolean) sends the whole read
//! to the CPU path, which names the line and column.
use super::read::{Finish, Layout};
use super::CsvReadOptions;
use ember_core::{Column, DType, DataFrame, Device, DeviceColumn, Result};
use ember_gpu::primitives::scan::{exclusive_scan, ScanType};
use ember_gpu::{DeviceBuffer, ExecContext, Kernel, KernelArg, LaunchConfig};
use std::sync::Arc;

const BLOCK: u32 = 256;
const CHUNK: usize = 256;
const ERR: u32 = 1;
const HARD: u32 = 2;

/// Whether the device path takes these options.
fn supported(opts: &CsvReadOptions, layout: &Layout<'_>) -> bool {
    opts.escape.is_none()
        && opts.comment.is_none()
        && opts.null_values.len() == 1
        && opts.null_values[0].is_empty()
        && layout.finish.iter().all(|f| matches!(f, Finish::Keep))
}

/// Decodes `layout`'s records on the GPU of `ctx`; `None`: the CPU path must read this input.
pub(super) fn read(ctx: &ExecContext, layout: &Layout<'_>) -> Result<Option<DataFrame>> {
    if !supported(layout.opts, layout) {
        return Ok(None);
    }
    let body = &layout.data[layout.start..layout.end];
    let n = body.len();
    if n == 0 || n > u32::MAX as usize * CHUNK {
        return Ok(None);
    }
    let quote = u32::from(layout.quote.unwrap_or(0));
    let data = ctx.upload_bytes(body)?;
    let chunks = n.div_ceil(CHUNK);
    let ccfg = LaunchConfig::for_elems(chunks, BLOCK);

    // Quote counts per chunk, their prefix (parity at each chunk's start), newlines outside
    // quotes per chunk, their prefix (where each chunk writes its record ends), the ends.
    let counts = ctx.alloc(chunks * 4)?;
    ctx.launch(
        Kernel::new("csv", "csv_quote_counts"),
        ccfg,
        &[
            (&data).into(),
            KernelArg::U64(n as u64),
            KernelArg::U32(quote),
            (&counts).into(),
            KernelArg::U64(chunks as u64),
        ],
    )?;
    let (prefix, quotes) = exclusive_scan(ctx, &counts, chunks, ScanType::U32)?;
    let ends_per_chunk = ctx.alloc(chunks * 4)?;
    ctx.launch(
        Kernel::new("csv", "csv_count_records"),
        ccfg,
        &[
            (&data).into(),
            KernelArg::U64(n as u64),
            KernelArg::U32(quote),
            (&prefix).into(),
            (&ends_per_chunk).into(),
            KernelArg::U64(chunks as u64),
        ],
    )?;
    let (offsets, newlines) = exclusive_scan(ctx, &ends_per_chunk, chunks, ScanType::U32)?;
    let newlines = newlines as usize;
    // A last record without a newline, or one inside an unterminated quote (the fields kernel
    // then refuses it, and the CPU path reads it as csv-core does).
    let last_open = body.last() != Some(&b'\n') || quotes % 2 == 1;
    let rows = newlines + usize::from(last_open);
    if rows == 0 {
        return Ok(None);
    }
    let ends = ctx.alloc(rows * 8)?;
    ctx.launch(
        Kernel::new("csv", "csv_write_records"),
        ccfg,
        &[
            (&data).into(),
            KernelArg::U64(n as u64),
            KernelArg::U32(quote),
            (&prefix).into(),
            (&offsets).into(),
            (&ends).into(),
            KernelArg::U64(chunks as u64),
        ],
    )?;
    if last_open {
        ctx.write_bytes(&ends, newlines * 8, &(n as u64).to_le_bytes())?;
    }

    // Fields of the wanted columns.
    let ncols = layout.read_schema.fields().len();
    let mut slot = vec![-1i32; ncols];
    for (j, &c) in layout.projection.iter().enumerate() {
        slot[c] = j as i32;
    }
    let outs = layout.projection.len();
    let slot_buf = ctx.upload(&slot)?;
    let fstart = ctx.alloc(outs * rows * 8)?;
    let flen = ctx.alloc(outs * rows * 4)?;
    let err = ctx.alloc_zeroed(4)?;
    let rcfg = LaunchConfig::for_elems(rows, BLOCK);
    ctx.launch(
        Kernel::new("csv", "csv_fields"),
        rcfg,
        &[
            (&data).into(),
            (&ends).into(),
            KernelArg::U64(rows as u64),
            KernelArg::U32(quote),
            KernelArg::U32(u32::from(layout.opts.delimiter)),
            KernelArg::U32(ncols as u32),
            (&slot_buf).into(),
            (&fstart).into(),
            (&flen).into(),
            (&err).into(),
        ],
    )?;

    // The fields kernel's error word before any parse: a malformed record leaves its fields
    // unwritten, and a parse kernel must never read them.
    if ctx.download::<u32>(&err, 1)?[0] & ERR != 0 {
        return Ok(None);
    }

    // Each column: parse, then one read of the error word.
    let gpu = ctx.gpu().clone();
    let device = Device::of_gpu(&gpu);
    let mut columns = Vec::with_capacity(outs);
    for (j, field) in layout.out_fields.iter().enumerate() {
        let fs = KernelArg::Ptr(fstart.device_ptr_at(j * rows * 8)?);
        let fl = KernelArg::Ptr(flen.device_ptr_at(j * rows * 4)?);
        let valid = Arc::new(ctx.alloc(rows.div_ceil(32) * 4)?);
        let col_err = ctx.alloc_zeroed(4)?;
        let common = |out: &DeviceBuffer| -> Vec<KernelArg<'static>> {
            vec![KernelArg::Ptr(data.device_ptr()), fs, fl, KernelArg::U32(quote), KernelArg::Ptr(out.device_ptr())]
        };
        let tail = |args: &mut Vec<KernelArg<'static>>| {
            args.push(KernelArg::Ptr(valid.device_ptr()));
            args.push(KernelArg::Ptr(col_err.device_ptr()));
            args.push(KernelArg::U64(rows as u64));
        };
        let dtype = field.dtype;
        // A fixed-width column: kernel `name` (its extra arguments after the quote byte) writes
        // `out_bytes` of values and the validity bits.
        let fixed = |name: &str, out_bytes: usize, extra: &[KernelArg<'static>]| -> Result<DeviceColumn> {
            let out = ctx.alloc(out_bytes)?;
            let mut args = common(&out);
            for (k, a) in extra.iter().enumerate() {
                args.insert(4 + k, *a);
            }
            tail(&mut args);
            ctx.launch(Kernel::named("csv", name), rcfg, &args)?;
            DeviceColumn::try_new(gpu.clone(), dtype, dtype.to_arrow(), rows, Arc::new(out), None, Some(valid.clone()))
        };
        let column = match dtype {
            t if t.is_integer() => {
                let bits = t.int_bits().unwrap_or(64);
                let signed = u32::from(t.is_signed_integer());
                Some(fixed("csv_parse_int", rows * bits as usize / 8, &[KernelArg::U32(bits), KernelArg::U32(signed)])?)
            }
            DType::Float32 => Some(fixed("csv_parse_float", rows * 4, &[KernelArg::U32(1)])?),
            DType::Float64 => Some(fixed("csv_parse_float", rows * 8, &[KernelArg::U32(0)])?),
            DType::Decimal128 { precision, scale } if scale >= 0 => Some(fixed(
                "csv_parse_decimal",
                rows * 16,
                &[KernelArg::U32(u32::from(precision)), KernelArg::U32(scale as u32)],
            )?),
            DType::Date32 => Some(fixed("csv_parse_date", rows * 4, &[])?),
            DType::Bool => Some(fixed("csv_parse_bool", rows.div_ceil(32) * 4, &[])?),
            DType::Utf8 => {
                let lengths = ctx.alloc(rows * 8)?;
                let mut args = common(&lengths);
                tail(&mut args);
                ctx.launch(Kernel::new("csv", "csv_str_lengths"), rcfg, &args)?;
                let (str_offsets, total) = exclusive_scan(ctx, &lengths, rows, ScanType::U64)?;
                let bytes = ctx.alloc(total as usize)?;
                if total > 0 {
                    ctx.launch(
                        Kernel::new("csv", "csv_str_copy"),
                        rcfg,
                        &[
                            (&data).into(),
                            fs,
                            fl,
                            KernelArg::U32(quote),
                            (&str_offsets).into(),
                            (&bytes).into(),
                            KernelArg::U64(rows as u64),
                        ],
                    )?;
                }
                Some(DeviceColumn::try_new(
                    gpu.clone(),
                    dtype,
                    dtype.to_arrow(),
                    rows,
                    Arc::new(bytes),
                    Some(Arc::new(str_offsets)),
                    Some(valid.clone()),
                )?)
            }
            _ => None,
        };
        let flags = if column.is_some() { ctx.download::<u32>(&col_err, 1)?[0] } else { HARD };
        if flags & ERR != 0 {
            return Ok(None);
        }
        let column = match column {
            Some(c) if flags & HARD == 0 => c,
            // A form the fast paths do not take (or a type they do not parse): this column on the CPU.
            _ => {
                let opts =
                    CsvReadOptions { columns: Some(vec![field.name.clone()]), n_rows: None, ..layout.opts.clone() };
                // A failure here is not this column's to report: the whole read on the CPU path
                // names the first bad value in file order.
                let host = match super::read::Layout::new(layout.data, layout.name, &opts).and_then(|l| l.read()) {
                    Ok(h) if h.num_rows() == rows => h,
                    _ => return Ok(None),
                };
                DeviceColumn::upload(ctx, host.columns()[0].to_arrow()?.as_ref())?
            }
        };
        columns.push((field.name.clone(), Column::Device(column)));
    }
    if columns.is_empty() {
        return Ok(None);
    }
    Ok(Some(DataFrame::from_columns(columns, device)?))
}

//! The logical plan: what to compute, not how. Plans serialise with serde (a distributed mode
//! ships them to workers, binding [`Source`]s by name there).
use ember_core::{DataFrame, Device, Error, Field, Result};
use ember_io::{CsvReadOptions, ParquetReadOptions};
use ember_ops::expr::types::dtype_of;
use ember_ops::join::JoinArgs;
use ember_ops::sort::SortKey;
use ember_ops::unique::Keep;
use ember_ops::{Agg, Expr};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

/// Where a scan reads from: an in-memory frame known by name (a deserialised plan carries the
/// name only; [`LogicalPlan::bind`] attaches the frame), or a CSV / Parquet file read when the
/// plan runs (the plan carries the path and the read options).
#[derive(Clone, Serialize, Deserialize)]
pub struct Source {
    /// The name the plan shows and binds by (a file source: its path).
    pub name: String,
    /// The schema of the source.
    pub fields: Vec<SerField>,
    /// What the rows are read from.
    #[serde(default)]
    pub kind: Box<SourceKind>,
    #[serde(skip)]
    frame: Option<DataFrame>,
    /// The device a file source's frame goes to after the read (a deserialised plan: the CPU).
    #[serde(skip)]
    device: Option<Device>,
}

/// What a [`Source`] reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub enum SourceKind {
    /// An in-memory frame.
    #[default]
    Memory,
    /// A CSV file (its `columns` option is set from the scan's projection).
    Csv {
        /// The file.
        path: String,
        /// How to read it.
        options: CsvReadOptions,
    },
    /// A Parquet file or directory (`columns` from the scan's projection; the optimizer puts the
    /// filter above the scan into `predicate`, so row groups it excludes are not read).
    Parquet {
        /// The file or directory.
        path: String,
        /// How to read it.
        options: ParquetReadOptions,
    },
}

/// A [`Field`] in a serialisable form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SerField {
    /// Column name.
    pub name: String,
    /// Logical type.
    pub dtype: ember_core::DType,
    /// Whether nulls may occur.
    pub nullable: bool,
}

impl From<&Field> for SerField {
    fn from(f: &Field) -> Self {
        SerField { name: f.name.clone(), dtype: f.dtype, nullable: f.nullable }
    }
}
impl From<&SerField> for Field {
    fn from(f: &SerField) -> Self {
        Field { name: f.name.clone(), dtype: f.dtype, nullable: f.nullable }
    }
}

impl Source {
    /// What tells this source's data apart from another's with the same name and columns: the
    /// addresses of a bound frame's column buffers (clones of a frame share them), and its length.
    /// File sources are told apart by their path and options, which `Debug` shows.
    pub(crate) fn identity(&self) -> Vec<usize> {
        let Some(df) = &self.frame else { return Vec::new() };
        let mut id: Vec<usize> = df
            .columns()
            .iter()
            .map(|c| match c {
                ember_core::Column::Host(a) => std::sync::Arc::as_ptr(a) as *const u8 as usize,
                ember_core::Column::Device(d) => d.values().device_ptr() as usize,
            })
            .collect();
        id.push(df.num_rows());
        id
    }

    /// A source over an in-memory frame.
    pub fn frame(name: &str, df: DataFrame) -> Source {
        Source {
            name: name.into(),
            fields: df.fields().iter().map(SerField::from).collect(),
            kind: Box::new(SourceKind::Memory),
            frame: Some(df),
            device: None,
        }
    }

    /// A CSV file, decoded on `device` when the plan runs (the columns and types: from the
    /// header and the inference sample, now).
    pub fn csv(path: impl AsRef<Path>, options: CsvReadOptions, device: Device) -> Result<Source> {
        let path = path.as_ref();
        let fields = ember_io::csv_schema(path, &options)?;
        Ok(Source::file(path, fields, SourceKind::Csv { path: path.display().to_string(), options }, device))
    }

    /// A Parquet file or directory, decoded on `device` when the plan runs (the columns and
    /// types: from the footer, now).
    pub fn parquet(path: impl AsRef<Path>, options: ParquetReadOptions, device: Device) -> Result<Source> {
        let path = path.as_ref();
        let mut fields = ember_io::parquet_schema(path)?;
        if let Some(cols) = &options.columns {
            fields.retain(|f| cols.contains(&f.name));
        }
        Ok(Source::file(path, fields, SourceKind::Parquet { path: path.display().to_string(), options }, device))
    }

    fn file(path: &Path, fields: Vec<Field>, kind: SourceKind, device: Device) -> Source {
        Source {
            name: path.display().to_string(),
            fields: fields.iter().map(SerField::from).collect(),
            kind: Box::new(kind),
            frame: None,
            device: Some(device),
        }
    }

    /// The device the scan's frame is on.
    pub fn device(&self) -> Result<Device> {
        match *self.kind {
            SourceKind::Memory => Ok(self.data()?.device()),
            _ => Ok(self.device.unwrap_or(Device::Cpu)),
        }
    }

    /// The in-memory frame, or an error naming the unbound source.
    pub fn data(&self) -> Result<&DataFrame> {
        self.frame.as_ref().ok_or_else(|| {
            Error::InvalidArgument(format!("source {:?} is not bound to a frame (LogicalPlan::bind)", self.name))
        })
    }

    /// Reads the source's `projection` (all columns: `None`) onto its device: files are decoded
    /// on the GPU when the device is one (its work in `ctx` when given).
    pub fn read(&self, projection: Option<&[String]>, ctx: Option<&ember_gpu::ExecContext>) -> Result<DataFrame> {
        let cols = projection.map(|p| p.to_vec());
        match &*self.kind {
            SourceKind::Memory => {
                let df = self.data()?;
                match projection {
                    None => Ok(df.clone()),
                    Some(p) => df.select(&p.iter().map(String::as_str).collect::<Vec<_>>()),
                }
            }
            SourceKind::Csv { path, options } => {
                let options = CsvReadOptions { columns: cols.or(options.columns.clone()), ..options.clone() };
                ember_io::read_csv_on(path, &options, self.device()?, ctx)
            }
            SourceKind::Parquet { path, options } => {
                let options = ParquetReadOptions { columns: cols.or(options.columns.clone()), ..options.clone() };
                ember_io::read_parquet_on(path, &options, self.device()?, ctx)
            }
        }
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.kind {
            SourceKind::Memory => write!(f, "Source({:?}, bound={})", self.name, self.frame.is_some()),
            kind => write!(f, "Source({kind:?})"),
        }
    }
}

/// An expression with the name of the column it produces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedExpr {
    /// The expression.
    pub expr: Expr,
    /// The output column's name.
    pub name: String,
}

impl From<Expr> for NamedExpr {
    /// Named by its alias, a bare column by its name, anything else by its text.
    fn from(expr: Expr) -> Self {
        let name = expr.output_name();
        NamedExpr { expr: expr.unaliased().clone(), name }
    }
}

/// An aggregation with its output name: `col("x").sum().alias("total")` (whole-frame in
/// [`LogicalPlan::Aggregate`], per group in [`LogicalPlan::GroupBy`]).
pub use ember_ops::groupby::Aggregation as AggExpr;

/// `.sum()`, `.min()`, ... on expressions: whole-frame aggregations for [`crate::LazyFrame::aggregate`].
// `len` is polars' name for the row count of a group; an `is_empty` would mean nothing here.
#[allow(clippy::len_without_is_empty)]
pub trait AggregateExt {
    /// `agg(self)`.
    fn agg(self, agg: Agg) -> AggExpr;
    /// Sum of non-null values.
    fn sum(self) -> AggExpr;
    /// Smallest non-null value.
    fn min(self) -> AggExpr;
    /// Largest non-null value.
    fn max(self) -> AggExpr;
    /// Mean of non-null values.
    fn mean(self) -> AggExpr;
    /// Number of non-null values.
    fn count(self) -> AggExpr;
    /// Number of values, nulls included.
    fn len(self) -> AggExpr;
    /// Number of distinct values (a null counts as one).
    fn n_unique(self) -> AggExpr;
    /// The first value (in input order).
    fn first(self) -> AggExpr;
    /// The last value (in input order).
    fn last(self) -> AggExpr;
    /// Sample variance (ddof 1).
    fn var(self) -> AggExpr;
    /// Sample standard deviation (ddof 1).
    fn std(self) -> AggExpr;
    /// Median.
    fn median(self) -> AggExpr;
    /// A quantile (`Quantile::new(0.9, Interpolation::Linear)?`).
    fn quantile(self, q: ember_ops::reduce::Quantile) -> AggExpr;
}

impl AggregateExt for Expr {
    fn agg(self, agg: Agg) -> AggExpr {
        AggExpr { agg, name: self.output_name(), expr: self.unaliased().clone() }
    }
    fn sum(self) -> AggExpr {
        self.agg(Agg::Sum)
    }
    fn min(self) -> AggExpr {
        self.agg(Agg::Min)
    }
    fn max(self) -> AggExpr {
        self.agg(Agg::Max)
    }
    fn mean(self) -> AggExpr {
        self.agg(Agg::Mean)
    }
    fn count(self) -> AggExpr {
        self.agg(Agg::Count)
    }
    fn len(self) -> AggExpr {
        self.agg(Agg::Len)
    }
    fn n_unique(self) -> AggExpr {
        self.agg(Agg::NUnique)
    }
    fn first(self) -> AggExpr {
        self.agg(Agg::First)
    }
    fn last(self) -> AggExpr {
        self.agg(Agg::Last)
    }
    fn var(self) -> AggExpr {
        self.agg(Agg::Var)
    }
    fn std(self) -> AggExpr {
        self.agg(Agg::Std)
    }
    fn median(self) -> AggExpr {
        self.agg(Agg::Median)
    }
    fn quantile(self, q: ember_ops::reduce::Quantile) -> AggExpr {
        self.agg(Agg::Quantile(q))
    }
}

/// A node of the logical plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum LogicalPlan {
    /// Read a source; `projection` keeps only the named columns (in source order).
    Scan {
        /// The source.
        source: Source,
        /// The columns read (`None`: all).
        projection: Option<Vec<String>>,
    },
    /// One output column per expression (select; `with_columns` is a select that keeps the input's
    /// columns).
    Select {
        /// The input.
        input: Box<LogicalPlan>,
        /// The outputs.
        exprs: Vec<NamedExpr>,
    },
    /// The rows where `predicate` is true (null drops the row).
    Filter {
        /// The input.
        input: Box<LogicalPlan>,
        /// A boolean expression.
        predicate: Expr,
    },
    /// One row of whole-frame aggregations over the rows where `predicate` (if any) is true. The
    /// result is a CPU frame: its values were read back to finish the reductions (cuDF's
    /// reductions return host scalars for the same reason).
    Aggregate {
        /// The input.
        input: Box<LogicalPlan>,
        /// A fused filter: rows it drops are never materialised.
        predicate: Option<Expr>,
        /// The aggregations.
        aggs: Vec<AggExpr>,
    },
    /// Rows `offset..offset + len`, clamped to the input.
    Slice {
        /// The input.
        input: Box<LogicalPlan>,
        /// First row.
        offset: usize,
        /// Rows at most.
        len: usize,
    },
    /// One row per distinct combination of `keys`, with `aggs` over each group's rows, groups
    /// in key order (see [`ember_ops::groupby`]).
    GroupBy {
        /// The input.
        input: Box<LogicalPlan>,
        /// The grouping keys (output columns named by [`Expr::output_name`]).
        keys: Vec<Expr>,
        /// The aggregations.
        aggs: Vec<AggExpr>,
        /// Groups in order of their first row (else sorted by key).
        #[serde(default)]
        maintain_order: bool,
    },
    /// An equi-join of two inputs (see [`ember_ops::join`]).
    Join {
        /// The left input.
        left: Box<LogicalPlan>,
        /// The right input.
        right: Box<LogicalPlan>,
        /// Keys, join type, null rule, suffix.
        args: JoinArgs,
    },
    /// The input's rows ordered by `keys` (stable).
    Sort {
        /// The input.
        input: Box<LogicalPlan>,
        /// Most significant first.
        keys: Vec<SortKey>,
    },
    /// The first `k` rows of the input ordered by `keys` (what the optimizer makes of a sort
    /// followed by a slice from row 0).
    TopK {
        /// The input.
        input: Box<LogicalPlan>,
        /// Most significant first.
        keys: Vec<SortKey>,
        /// Rows kept.
        k: usize,
    },
    /// The inputs' rows one after the other (same columns and types).
    Concat {
        /// The inputs, in order.
        inputs: Vec<LogicalPlan>,
    },
    /// One row per distinct `subset` (all columns when `None`), the first or last of each, in
    /// input order.
    Unique {
        /// The input.
        input: Box<LogicalPlan>,
        /// The columns that decide duplicates.
        subset: Option<Vec<String>>,
        /// Which duplicate stays.
        keep: Keep,
    },
}

impl LogicalPlan {
    /// The output columns.
    pub fn schema(&self) -> Result<Vec<Field>> {
        Ok(match self {
            LogicalPlan::Scan { source, projection } => {
                let all: Vec<Field> = source.fields.iter().map(Field::from).collect();
                match projection {
                    None => all,
                    Some(p) => p
                        .iter()
                        .map(|n| {
                            all.iter().find(|f| &f.name == n).cloned().ok_or_else(|| Error::ColumnNotFound {
                                name: n.clone(),
                                available: all.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", "),
                            })
                        })
                        .collect::<Result<_>>()?,
                }
            }
            LogicalPlan::Select { input, exprs } => {
                let fields = input.schema()?;
                let mut out: Vec<Field> = Vec::with_capacity(exprs.len());
                for e in exprs {
                    if out.iter().any(|f| f.name == e.name) {
                        return Err(Error::InvalidArgument(format!("duplicate output column {:?}", e.name)));
                    }
                    let dtype = dtype_of(&e.expr, &fields)?.unwrap_or(ember_core::DType::Bool);
                    out.push(Field { name: e.name.clone(), dtype, nullable: true });
                }
                out
            }
            LogicalPlan::GroupBy { input, keys, aggs, .. } => {
                ember_ops::groupby::output_fields(&input.schema()?, keys, aggs)?
            }
            LogicalPlan::Join { left, right, args } => {
                ember_ops::join::output_fields(&left.schema()?, &right.schema()?, args)?.0
            }
            LogicalPlan::Sort { input, keys } | LogicalPlan::TopK { input, keys, .. } => {
                let fields = input.schema()?;
                for k in keys {
                    dtype_of(&k.expr, &fields)?;
                }
                fields
            }
            LogicalPlan::Filter { input, .. } | LogicalPlan::Slice { input, .. } => input.schema()?,
            LogicalPlan::Concat { inputs } => {
                let first = inputs.first().ok_or_else(|| Error::InvalidArgument("concat of no frames".into()))?;
                let fields = first.schema()?;
                for other in &inputs[1..] {
                    let o = other.schema()?;
                    if o.len() != fields.len()
                        || o.iter().zip(&fields).any(|(a, b)| a.name != b.name || a.dtype != b.dtype)
                    {
                        return Err(Error::InvalidArgument(
                            "concat needs the same columns and types in every input".into(),
                        ));
                    }
                }
                fields.into_iter().map(|f| Field { nullable: true, ..f }).collect()
            }
            LogicalPlan::Unique { input, subset, .. } => {
                let fields = input.schema()?;
                for n in subset.iter().flatten() {
                    if !fields.iter().any(|f| &f.name == n) {
                        return Err(Error::ColumnNotFound {
                            name: n.clone(),
                            available: fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", "),
                        });
                    }
                }
                fields
            }
            LogicalPlan::Aggregate { input, aggs, .. } => {
                let fields = input.schema()?;
                aggs.iter()
                    .map(|a| {
                        let t = dtype_of(&a.expr, &fields)?.unwrap_or(ember_core::DType::Int32);
                        let dtype = ember_ops::reduce::output_type(a.agg, t)?;
                        Ok(Field { name: a.name.clone(), dtype, nullable: true })
                    })
                    .collect::<Result<_>>()?
            }
        })
    }

    /// The plan's inputs.
    pub fn inputs(&self) -> Vec<&LogicalPlan> {
        match self {
            LogicalPlan::Scan { .. } => vec![],
            LogicalPlan::Select { input, .. }
            | LogicalPlan::Filter { input, .. }
            | LogicalPlan::Aggregate { input, .. }
            | LogicalPlan::Slice { input, .. }
            | LogicalPlan::Sort { input, .. }
            | LogicalPlan::Unique { input, .. }
            | LogicalPlan::TopK { input, .. }
            | LogicalPlan::GroupBy { input, .. } => vec![input],
            LogicalPlan::Join { left, right, .. } => vec![left, right],
            LogicalPlan::Concat { inputs } => inputs.iter().collect(),
        }
    }

    /// Attaches `frame` to every scan of the source named `name` (after deserialising a plan).
    pub fn bind(&mut self, name: &str, frame: &DataFrame) {
        self.each_scan_of(name, &mut |node| {
            if let LogicalPlan::Scan { source, .. } = node {
                source.frame = Some(frame.clone());
            }
        });
    }

    /// Replaces every scan of the source named `name` by `plan` (a distributed task puts a file
    /// scan, or another partition's plan, where a template plan reads its input).
    pub fn substitute(&mut self, name: &str, plan: &LogicalPlan) {
        self.each_scan_of(name, &mut |node| *node = plan.clone());
    }

    /// Calls `f` on every scan node of the source named `name`.
    fn each_scan_of(&mut self, name: &str, f: &mut dyn FnMut(&mut LogicalPlan)) {
        match self {
            LogicalPlan::Scan { source, .. } => {
                if source.name == name {
                    f(self);
                }
            }
            LogicalPlan::Select { input, .. }
            | LogicalPlan::Filter { input, .. }
            | LogicalPlan::Aggregate { input, .. }
            | LogicalPlan::Slice { input, .. }
            | LogicalPlan::Sort { input, .. }
            | LogicalPlan::Unique { input, .. }
            | LogicalPlan::TopK { input, .. }
            | LogicalPlan::GroupBy { input, .. } => input.each_scan_of(name, f),
            LogicalPlan::Join { left, right, .. } => {
                left.each_scan_of(name, f);
                right.each_scan_of(name, f);
            }
            LogicalPlan::Concat { inputs } => inputs.iter_mut().for_each(|i| i.each_scan_of(name, f)),
        }
    }

    fn fmt_indent(&self, f: &mut fmt::Formatter<'_>, depth: usize) -> fmt::Result {
        self.fmt_node(f, depth)?;
        for i in self.inputs() {
            i.fmt_indent(f, depth + 1)?;
        }
        Ok(())
    }

    /// This node's line of [`fmt::Display`] (without its inputs): what the profile names it by.
    pub fn describe(&self) -> String {
        struct Node<'a>(&'a LogicalPlan);
        impl fmt::Display for Node<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt_node(f, 0)
            }
        }
        Node(self).to_string().trim_end().to_string()
    }

    /// This node's line, indented `depth` levels.
    fn fmt_node(&self, f: &mut fmt::Formatter<'_>, depth: usize) -> fmt::Result {
        let pad = "  ".repeat(depth);
        match self {
            LogicalPlan::Scan { source, projection } => {
                match &*source.kind {
                    SourceKind::Memory => write!(f, "{pad}SCAN {}", source.name)?,
                    SourceKind::Csv { path, .. } => write!(f, "{pad}SCAN CSV {path:?}")?,
                    SourceKind::Parquet { path, .. } => write!(f, "{pad}SCAN PARQUET {path:?}")?,
                }
                if let Some(p) = projection {
                    write!(f, " [{}]", p.join(", "))?;
                }
                if let SourceKind::Parquet { options: ParquetReadOptions { predicate: Some(p), .. }, .. } =
                    &*source.kind
                {
                    write!(f, " SKIP ROW GROUPS UNLESS {p}")?;
                }
                writeln!(f)?;
            }
            LogicalPlan::Select { exprs, .. } => {
                let items: Vec<String> = exprs
                    .iter()
                    .map(|e| match &e.expr {
                        Expr::Column(c) if *c == e.name => c.clone(),
                        other => format!("{other} AS {}", e.name),
                    })
                    .collect();
                writeln!(f, "{pad}SELECT [{}]", items.join(", "))?;
            }
            LogicalPlan::Filter { predicate, .. } => writeln!(f, "{pad}FILTER {predicate}")?,
            LogicalPlan::Join { args, .. } => {
                let on: Vec<String> =
                    args.left_on.iter().zip(&args.right_on).map(|(l, r)| format!("{l} = {r}")).collect();
                let nulls = if args.nulls_equal { " NULLS EQUAL" } else { "" };
                writeln!(f, "{pad}JOIN {:?} ON [{}]{nulls}", args.how, on.join(", "))?
            }
            LogicalPlan::GroupBy { keys, aggs, maintain_order, .. } => {
                let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
                let ordered = if *maintain_order { " MAINTAIN ORDER" } else { "" };
                let items: Vec<String> =
                    aggs.iter().map(|a| format!("{}({}) AS {}", a.agg.name(), a.expr, a.name)).collect();
                writeln!(f, "{pad}GROUP BY [{}]{ordered} AGG [{}]", keys.join(", "), items.join(", "))?
            }
            LogicalPlan::Aggregate { predicate, aggs, .. } => {
                let items: Vec<String> =
                    aggs.iter().map(|a| format!("{}({}) AS {}", a.agg.name(), a.expr, a.name)).collect();
                write!(f, "{pad}AGGREGATE [{}]", items.join(", "))?;
                match predicate {
                    Some(p) => writeln!(f, " WHERE {p}")?,
                    None => writeln!(f)?,
                }
            }
            LogicalPlan::Slice { offset, len, .. } => writeln!(f, "{pad}SLICE {offset}..+{len}")?,
            LogicalPlan::Sort { keys, .. } => {
                let items: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
                writeln!(f, "{pad}SORT BY [{}]", items.join(", "))?
            }
            LogicalPlan::Concat { inputs } => writeln!(f, "{pad}CONCAT {} inputs", inputs.len())?,
            LogicalPlan::TopK { keys, k, .. } => {
                let items: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
                writeln!(f, "{pad}TOP {k} BY [{}]", items.join(", "))?
            }
            LogicalPlan::Unique { subset, keep, .. } => match subset {
                Some(s) => writeln!(f, "{pad}UNIQUE [{}] KEEP {keep:?}", s.join(", "))?,
                None => writeln!(f, "{pad}UNIQUE KEEP {keep:?}")?,
            },
        }
        Ok(())
    }
}

impl fmt::Display for LogicalPlan {
    /// The plan as an indented tree, root first (what `explain` prints).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_indent(f, 0)
    }
}

//! ember's error type: one enum, structured variants, no panics on user input.
use ember_gpu::GpuError;

/// Every error ember returns. User errors (bad column names, types, arguments) are kept apart from
/// [`Error::Internal`], which is a bug in ember.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A column name that is not in the frame.
    #[error("column {name:?} not found; available columns: [{available}]")]
    ColumnNotFound {
        /// The name asked for.
        name: String,
        /// The frame's columns, comma-separated.
        available: String,
    },
    /// An operation was applied to types it does not accept.
    #[error("type error in {op}: {message}")]
    Type {
        /// The operation (e.g. `l_discount * 2 (multiply)`).
        op: String,
        /// What was wrong.
        message: String,
    },
    /// An Arrow data type ember does not model yet.
    #[error("unsupported Arrow data type {0}")]
    UnsupportedArrowType(String),
    /// An invalid argument (unparsable literal, unknown device name, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Columns of different lengths were combined.
    #[error("length mismatch in {context}: expected {expected} rows, got {actual}")]
    LengthMismatch {
        /// Where.
        context: String,
        /// Expected length.
        expected: usize,
        /// Actual length.
        actual: usize,
    },
    /// Data on different devices was combined.
    #[error("device mismatch: {0}")]
    DeviceMismatch(String),
    /// Integer or decimal arithmetic overflowed where ember checks it (decimals, division).
    #[error("arithmetic overflow in {0}")]
    Overflow(String),
    /// Integer or decimal division by zero.
    #[error("division by zero in {0}")]
    DivideByZero(String),
    /// An error from the GPU runtime (device discovery, memory, launch).
    #[error(transparent)]
    Gpu(#[from] GpuError),
    /// An error from arrow-rs on the CPU path.
    #[error("arrow: {0}")]
    Arrow(arrow::error::ArrowError),
    /// An expression under a predicate does not fit one fused GPU program (the op falls back to
    /// filtering first; users do not see this error).
    #[error("the expression is too large for one fused GPU program")]
    ProgramTooLarge,
    /// Something ember does not do yet (on this device): the message says what, and what to do.
    #[error("not supported yet: {0}")]
    Unsupported(String),
    /// A file could not be opened, read, written or renamed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A file's contents are not what its format requires (malformed CSV, corrupt Parquet, a value
    /// that does not parse as its column's type): where, and what.
    #[error("{path}{at}: {message}")]
    Read {
        /// The file.
        path: String,
        /// Where in the file.
        at: Box<ReadLocation>,
        /// What was wrong.
        message: String,
    },
    /// An iterative algorithm did not meet its stopping rule within its iteration limit (as
    /// networkx's `PowerIterationFailedConvergence`).
    #[error("{what} did not converge in {iterations} iterations (last residual {residual:e})")]
    NotConverged {
        /// The algorithm and its rule (e.g. `PageRank (L1 < N * tol = 1e-3)`).
        what: String,
        /// Iterations run.
        iterations: usize,
        /// The last iteration's residual.
        residual: f64,
    },
    /// A reduction between the processes of a data-parallel computation failed (a peer was
    /// lost, the transport broke): what failed, and the transport's message.
    #[error("a reduction between processes failed: {0}")]
    Collective(String),
    /// A bug in ember: please report it.
    #[error("internal error (a bug in ember): {0}")]
    Internal(String),
}

impl From<arrow::error::ArrowError> for Error {
    fn from(e: arrow::error::ArrowError) -> Self {
        use arrow::error::ArrowError as A;
        match e {
            A::DivideByZero => Error::DivideByZero("arrow kernel".into()),
            A::ArithmeticOverflow(m) => Error::Overflow(m),
            other => Error::Arrow(other),
        }
    }
}

/// Where in a file a read error was found; each part is known or not. Shown as
/// `: line 7, column "price"` or `: row group 3, column "l_tax", page 2`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadLocation {
    /// 1-based physical line (CSV).
    pub line: Option<u64>,
    /// 0-based byte offset in the file.
    pub byte: Option<u64>,
    /// 0-based row group (Parquet).
    pub row_group: Option<usize>,
    /// The column's name.
    pub column: Option<String>,
    /// 0-based page within the column chunk (Parquet).
    pub page: Option<usize>,
}

impl std::fmt::Display for ReadLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(l) = self.line {
            parts.push(format!("line {l}"));
        }
        if let Some(g) = self.row_group {
            parts.push(format!("row group {g}"));
        }
        if let Some(c) = &self.column {
            parts.push(format!("column {c:?}"));
        }
        if let Some(p) = self.page {
            parts.push(format!("page {p}"));
        }
        if let Some(b) = self.byte {
            parts.push(format!("byte {b}"));
        }
        if !parts.is_empty() {
            write!(f, ": {}", parts.join(", "))?;
        }
        Ok(())
    }
}

/// Result alias used across ember.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Returns early with [`Error::Type`].
#[macro_export]
macro_rules! type_bail {
    ($op:expr, $($arg:tt)*) => {
        return Err($crate::Error::Type { op: ($op).to_string(), message: format!($($arg)*) })
    };
}

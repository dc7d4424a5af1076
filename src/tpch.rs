//! TPC-H data (generated in memory by the `tpchgen` crates, identical to dbgen's) and the
//! reference queries, shared by the quickstart, the tests and the benchmarks.
use crate::prelude::*;
use rayon::prelude::*;
use tpchgen::generators::{
    CustomerGenerator, LineItemGenerator, NationGenerator, OrderGenerator, PartGenerator, PartSuppGenerator,
    RegionGenerator, SupplierGenerator,
};
use tpchgen_arrow::{
    CustomerArrow, LineItemArrow, NationArrow, OrderArrow, PartArrow, PartSuppArrow, RegionArrow, SupplierArrow,
};

/// `pub fn $name(sf) -> Result<DataFrame>`: one TPC-H table generated in memory, split into `parts`
/// generator parts run in parallel (1 for the fixed-size tables, whose generators ignore parts).
macro_rules! table {
    ($(#[$doc:meta])* $name:ident, $arrow:ident, $gen:ident, $parts:expr) => {
        $(#[$doc])*
        pub fn $name(sf: f64) -> Result<DataFrame> {
            generate(sf, $arrow::schema_ref(), $parts, |p, parts| {
                $arrow::new($gen::new(sf, p, parts)).with_batch_size(64 * 1024)
            })
        }
    };
}

table!(
    /// `lineitem` at scale factor `sf` (about 6M rows per unit of `sf`).
    ///
    /// ```
    /// let li = ember::tpch::lineitem(0.001).unwrap();
    /// assert_eq!(li.num_rows(), 6005);
    /// ```
    lineitem, LineItemArrow, LineItemGenerator, None
);
table!(
    /// `orders` at scale factor `sf` (1.5M rows per unit of `sf`).
    ///
    /// ```
    /// assert_eq!(ember::tpch::orders(0.001).unwrap().num_rows(), 1500);
    /// ```
    orders, OrderArrow, OrderGenerator, None
);
table!(
    /// `customer` at scale factor `sf` (150K rows per unit of `sf`).
    ///
    /// ```
    /// assert_eq!(ember::tpch::customer(0.01).unwrap().num_rows(), 1500);
    /// ```
    customer, CustomerArrow, CustomerGenerator, None
);
table!(
    /// `supplier` at scale factor `sf` (10K rows per unit of `sf`).
    supplier, SupplierArrow, SupplierGenerator, None
);
table!(
    /// `part` at scale factor `sf` (200K rows per unit of `sf`).
    part, PartArrow, PartGenerator, None
);
table!(
    /// `partsupp` at scale factor `sf` (800K rows per unit of `sf`).
    partsupp, PartSuppArrow, PartSuppGenerator, None
);
table!(
    /// `nation` (25 rows at any scale factor).
    ///
    /// ```
    /// assert_eq!(ember::tpch::nation(1.0).unwrap().num_rows(), 25);
    /// ```
    nation, NationArrow, NationGenerator, Some(1)
);
table!(
    /// `region` (5 rows at any scale factor).
    region, RegionArrow, RegionGenerator, Some(1)
);

/// Part `part` (1-based) of `parts` of the TPC-H table `name` at scale factor `sf`: the rows
/// `tpchgen` deals to that part (dbgen's `-C parts -S part`), so each worker of a cluster
/// generates its own share and the parts together are the whole table. `nation` and `region`
/// are whole in part 1 and empty in the others.
///
/// ```
/// let a = ember::tpch::table_part("orders", 0.001, 1, 2).unwrap();
/// let b = ember::tpch::table_part("orders", 0.001, 2, 2).unwrap();
/// assert_eq!(a.num_rows() + b.num_rows(), 1500);
/// ```
///
/// # Errors
/// An unknown table, `part` outside `1..=parts`, or a scale factor that is not positive.
pub fn table_part(name: &str, sf: f64, part: i32, parts: i32) -> Result<DataFrame> {
    if parts < 1 || part < 1 || part > parts {
        return Err(Error::InvalidArgument(format!("part {part} of {parts}: parts are numbered 1..={parts}")));
    }
    macro_rules! one {
        ($arrow:ident, $gen:ident) => {
            generate(sf, $arrow::schema_ref(), Some(1), |_, _| {
                $arrow::new($gen::new(sf, part, parts)).with_batch_size(64 * 1024)
            })
        };
    }
    match name {
        "lineitem" => one!(LineItemArrow, LineItemGenerator),
        "orders" => one!(OrderArrow, OrderGenerator),
        "customer" => one!(CustomerArrow, CustomerGenerator),
        "supplier" => one!(SupplierArrow, SupplierGenerator),
        "part" => one!(PartArrow, PartGenerator),
        "partsupp" => one!(PartSuppArrow, PartSuppGenerator),
        "nation" | "region" => {
            let whole = if name == "nation" { nation(sf)? } else { region(sf)? };
            if part == 1 {
                Ok(whole)
            } else {
                whole.slice(0, 0)
            }
        }
        other => Err(Error::InvalidArgument(format!(
            "no TPC-H table {other:?}; expected lineitem, orders, customer, supplier, part, partsupp, nation or region"
        ))),
    }
}

/// One table, generated in parallel over `tpchgen`'s parts.
fn generate<I>(
    sf: f64,
    schema: arrow::datatypes::SchemaRef,
    parts: Option<i32>,
    part: impl Fn(i32, i32) -> I + Sync,
) -> Result<DataFrame>
where
    I: Iterator<Item = std::result::Result<arrow::array::RecordBatch, arrow::error::ArrowError>>,
{
    if !(sf > 0.0 && sf.is_finite()) {
        return Err(Error::InvalidArgument(format!("scale factor must be positive, got {sf}")));
    }
    let parts = parts.unwrap_or((rayon::current_num_threads() * 2).clamp(1, 64) as i32);
    let batches: Vec<_> = (1..=parts)
        .into_par_iter()
        .map(|p| part(p, parts).collect::<Vec<_>>())
        .collect::<Vec<_>>()
        .into_iter()
        .flatten()
        .collect::<std::result::Result<Vec<_>, _>>()?;
    DataFrame::from_record_batches(schema, &batches)
}

/// TPC-H Q6 (forecasting revenue change) on `lineitem`, on the frame's device:
///
/// ```sql
/// SELECT sum(l_extendedprice * l_discount) AS revenue FROM lineitem
/// WHERE l_shipdate >= date '1994-01-01' AND l_shipdate < date '1995-01-01'
///   AND l_discount BETWEEN 0.05 AND 0.07 AND l_quantity < 24
/// ```
///
/// The revenue is an exact decimal (scale 4). The optimizer reads only the four columns the
/// query uses and fuses the filter into the sum: on a GPU one pass over the rows, two launches
/// and one synchronisation, no filtered column.
pub fn q6(lineitem: &DataFrame) -> Result<Scalar> {
    let out = q6_lazy(lineitem)?.collect()?;
    Scalar::from_array(out.column("revenue")?.to_arrow()?.as_ref(), 0)
}

/// Q6 as a lazy query (for `explain`, or to collect the one-row frame).
pub fn q6_lazy(lineitem: &DataFrame) -> Result<LazyFrame> {
    Ok(LazyFrame::scan("lineitem", lineitem)
        .filter(q6_predicate()?)
        .aggregate([(col("l_extendedprice") * col("l_discount")).sum().alias("revenue")]))
}

/// TPC-H Q1 (pricing summary report) as a lazy query: the rows shipped by 1998-09-02 (the
/// validation parameter DELTA = 90 days), grouped by return flag and line status, with exact
/// decimal sums, `f64` means and the row count, in key order.
pub fn q1_lazy(lineitem: &DataFrame) -> Result<LazyFrame> {
    let charge = disc_price() * (lit(1) + col("l_tax"));
    Ok(LazyFrame::scan("lineitem", lineitem)
        .filter(col("l_shipdate").lt_eq(date("1998-09-02")?))
        .group_by([col("l_returnflag"), col("l_linestatus")])
        .agg([
            col("l_quantity").sum().alias("sum_qty"),
            col("l_extendedprice").sum().alias("sum_base_price"),
            disc_price().sum().alias("sum_disc_price"),
            charge.sum().alias("sum_charge"),
            col("l_quantity").mean().alias("avg_qty"),
            col("l_extendedprice").mean().alias("avg_price"),
            col("l_discount").mean().alias("avg_disc"),
            col("l_orderkey").count().alias("count_order"),
        ])
        .sort(["l_returnflag", "l_linestatus"]))
}

/// TPC-H Q3 (shipping priority) as a lazy query over `customer`, `orders` and `lineitem`, with the
/// validation parameters (segment `BUILDING`, date 1995-03-15): the ten unshipped orders of the
/// highest revenue. Two joins, a group-by on three keys, a sort and a limit.
pub fn q3_lazy(customer: &DataFrame, orders: &DataFrame, lineitem: &DataFrame) -> Result<LazyFrame> {
    let day = || date("1995-03-15");
    let c = LazyFrame::scan("customer", customer)
        .filter(col("c_mktsegment").eq(lit("BUILDING")))
        .select([col("c_custkey")]);
    let o = LazyFrame::scan("orders", orders).filter(col("o_orderdate").lt(day()?)).select([
        col("o_orderkey"),
        col("o_custkey"),
        col("o_orderdate"),
        col("o_shippriority"),
    ]);
    let l = LazyFrame::scan("lineitem", lineitem).filter(col("l_shipdate").gt(day()?)).select([
        col("l_orderkey"),
        col("l_extendedprice"),
        col("l_discount"),
    ]);
    Ok(c.join(o, JoinArgs::new(["c_custkey"], ["o_custkey"], JoinType::Inner))
        .join(l, JoinArgs::new(["o_orderkey"], ["l_orderkey"], JoinType::Inner))
        .group_by([col("l_orderkey"), col("o_orderdate"), col("o_shippriority")])
        .agg([disc_price().sum().alias("revenue")])
        .sort([SortKey::new(col("revenue")).descending(), SortKey::new(col("o_orderdate"))])
        .head(10)
        .select([col("l_orderkey"), col("revenue"), col("o_orderdate"), col("o_shippriority")]))
}

/// TPC-H Q4 (order priority checking) as a lazy query over `orders` and `lineitem` (validation
/// date 1993-07-01): the correlated `EXISTS` is a semi join.
pub fn q4_lazy(orders: &DataFrame, lineitem: &DataFrame) -> Result<LazyFrame> {
    let late = LazyFrame::scan("lineitem", lineitem)
        .filter(col("l_commitdate").lt(col("l_receiptdate")))
        .select([col("l_orderkey")]);
    Ok(LazyFrame::scan("orders", orders)
        .filter(col("o_orderdate").gt_eq(date("1993-07-01")?).and(col("o_orderdate").lt(date("1993-10-01")?)))
        .join(late, JoinArgs::new(["o_orderkey"], ["l_orderkey"], JoinType::Semi))
        .group_by([col("o_orderpriority")])
        .agg([col("o_orderkey").count().alias("order_count")])
        .sort(["o_orderpriority"]))
}

/// TPC-H Q18 (large volume customer) as a lazy query (validation quantity 300): the `IN`
/// subquery is a group-by with a filter on its sum, then a semi join.
pub fn q18_lazy(customer: &DataFrame, orders: &DataFrame, lineitem: &DataFrame) -> Result<LazyFrame> {
    let li = || LazyFrame::scan("lineitem", lineitem).select([col("l_orderkey"), col("l_quantity")]);
    let big = li()
        .group_by([col("l_orderkey")])
        .agg([col("l_quantity").sum().alias("total")])
        .filter(col("total").gt(lit(300)))
        .select([col("l_orderkey")]);
    let o = LazyFrame::scan("orders", orders)
        .select([col("o_orderkey"), col("o_custkey"), col("o_orderdate"), col("o_totalprice")])
        .join(big, JoinArgs::new(["o_orderkey"], ["l_orderkey"], JoinType::Semi));
    Ok(LazyFrame::scan("customer", customer)
        .select([col("c_custkey"), col("c_name")])
        .join(o, JoinArgs::new(["c_custkey"], ["o_custkey"], JoinType::Inner))
        .join(li(), JoinArgs::new(["o_orderkey"], ["l_orderkey"], JoinType::Inner))
        .group_by([col("c_name"), col("c_custkey"), col("o_orderkey"), col("o_orderdate"), col("o_totalprice")])
        .agg([col("l_quantity").sum().alias("sum_qty")])
        .sort([SortKey::new(col("o_totalprice")).descending(), SortKey::new(col("o_orderdate"))])
        .head(100))
}

/// `l_extendedprice * (1 - l_discount)`, the discounted price several queries sum.
fn disc_price() -> Expr {
    col("l_extendedprice") * (lit(1) - col("l_discount"))
}

/// TPC-H Q5 (local supplier volume) as a lazy query over six tables (region `ASIA`, 1994): a
/// join on two keys at once (`l_suppkey = s_suppkey AND c_nationkey = s_nationkey`).
pub fn q5_lazy(t: &Tables) -> Result<LazyFrame> {
    // From the region down: Asia's customers (a fifth), their orders of 1994, those orders' lines.
    let asia = LazyFrame::scan("region", &t.region).filter(col("r_name").eq(lit("ASIA"))).select([col("r_regionkey")]);
    let nations = LazyFrame::scan("nation", &t.nation)
        .select([col("n_nationkey"), col("n_name"), col("n_regionkey")])
        .join(asia, JoinArgs::new(["n_regionkey"], ["r_regionkey"], JoinType::Semi));
    let customers = LazyFrame::scan("customer", &t.customer).select([col("c_custkey"), col("c_nationkey")]);
    let orders = LazyFrame::scan("orders", &t.orders)
        .filter(col("o_orderdate").gt_eq(date("1994-01-01")?).and(col("o_orderdate").lt(date("1995-01-01")?)))
        .select([col("o_orderkey"), col("o_custkey")]);
    let lines = LazyFrame::scan("lineitem", &t.lineitem).select([
        col("l_orderkey"),
        col("l_suppkey"),
        col("l_extendedprice"),
        col("l_discount"),
    ]);
    let suppliers = LazyFrame::scan("supplier", &t.supplier).select([col("s_suppkey"), col("s_nationkey")]);
    Ok(nations
        .join(customers, JoinArgs::new(["n_nationkey"], ["c_nationkey"], JoinType::Inner))
        .join(orders, JoinArgs::new(["c_custkey"], ["o_custkey"], JoinType::Inner))
        .join(lines, JoinArgs::new(["o_orderkey"], ["l_orderkey"], JoinType::Inner))
        .join(suppliers, JoinArgs::new(["l_suppkey", "n_nationkey"], ["s_suppkey", "s_nationkey"], JoinType::Semi))
        .group_by([col("n_name")])
        .agg([disc_price().sum().alias("revenue")])
        .sort([SortKey::new(col("revenue")).descending()]))
}

/// TPC-H Q10 (returned item reporting) as a lazy query (1993-10-01): the top 20 customers by
/// revenue lost to returns (the SQL's seven group keys all follow from `c_custkey`).
pub fn q10_lazy(t: &Tables) -> Result<LazyFrame> {
    let orders = LazyFrame::scan("orders", &t.orders)
        .filter(col("o_orderdate").gt_eq(date("1993-10-01")?).and(col("o_orderdate").lt(date("1994-01-01")?)))
        .select([col("o_orderkey"), col("o_custkey")]);
    let lines = LazyFrame::scan("lineitem", &t.lineitem).filter(col("l_returnflag").eq(lit("R"))).select([
        col("l_orderkey"),
        col("l_extendedprice"),
        col("l_discount"),
    ]);
    // The other six group keys are columns of the customer (and its nation) that `c_custkey`
    // determines, so the revenue is summed per customer before the customer's text columns join
    // (38K groups of one integer key instead of 115K rows of seven keys, five of them strings).
    let lost = orders
        .join(lines, JoinArgs::new(["o_orderkey"], ["l_orderkey"], JoinType::Inner))
        .group_by([col("o_custkey")])
        .agg([disc_price().sum().alias("revenue")]);
    let nations = LazyFrame::scan("nation", &t.nation).select([col("n_nationkey"), col("n_name")]);
    Ok(LazyFrame::scan("customer", &t.customer)
        .join(lost, JoinArgs::new(["c_custkey"], ["o_custkey"], JoinType::Inner))
        .join(nations, JoinArgs::new(["c_nationkey"], ["n_nationkey"], JoinType::Inner))
        .sort([SortKey::new(col("revenue")).descending()])
        .head(20)
        .select(
            ["c_custkey", "c_name", "revenue", "c_acctbal", "n_name", "c_address", "c_phone", "c_comment"].map(col),
        ))
}

/// TPC-H Q19 (discounted revenue) as a lazy query: a join, then three alternative conjunctions of
/// brand, container list, quantity range and size range (the validation parameters).
pub fn q19_lazy(t: &Tables) -> Result<LazyFrame> {
    let strs = |v: &[&str]| v.iter().map(|s| Scalar::Utf8(s.to_string())).collect::<Vec<_>>();
    let case = |brand: &str, containers: &[&str], qty: i32, size: i32| {
        col("p_brand")
            .eq(lit(brand))
            .and(col("p_container").is_in(strs(containers)))
            .and(col("l_quantity").gt_eq(lit(qty)))
            .and(col("l_quantity").lt_eq(lit(qty + 10)))
            .and(col("p_size").is_between(lit(1), lit(size)))
    };
    let lines = LazyFrame::scan("lineitem", &t.lineitem)
        .filter(
            col("l_shipmode").is_in(strs(&["AIR", "AIR REG"])).and(col("l_shipinstruct").eq(lit("DELIVER IN PERSON"))),
        )
        .select([col("l_partkey"), col("l_quantity"), col("l_extendedprice"), col("l_discount")]);
    Ok(LazyFrame::scan("part", &t.part)
        .select([col("p_partkey"), col("p_brand"), col("p_container"), col("p_size")])
        .join(lines, JoinArgs::new(["p_partkey"], ["l_partkey"], JoinType::Inner))
        .filter(
            case("Brand#12", &["SM CASE", "SM BOX", "SM PACK", "SM PKG"], 1, 5)
                .or(case("Brand#23", &["MED BAG", "MED BOX", "MED PKG", "MED PACK"], 10, 10))
                .or(case("Brand#34", &["LG CASE", "LG BOX", "LG PACK", "LG PKG"], 20, 15)),
        )
        .aggregate([disc_price().sum().alias("revenue")]))
}

/// TPC-H Q11 (important stock identification) as a lazy query (`GERMANY`, fraction 0.0001; ties
/// in value ordered by part key). The uncorrelated subquery (the total) runs first, at build time,
/// and enters the plan as a literal, as a planner would fold it.
pub fn q11_lazy(t: &Tables) -> Result<LazyFrame> {
    let german = {
        let nation = LazyFrame::scan("nation", &t.nation).filter(col("n_name").eq(lit("GERMANY")));
        let suppliers = LazyFrame::scan("supplier", &t.supplier)
            .select([col("s_suppkey"), col("s_nationkey")])
            .join(nation, JoinArgs::new(["s_nationkey"], ["n_nationkey"], JoinType::Semi));
        LazyFrame::scan("partsupp", &t.partsupp)
            .select([col("ps_partkey"), col("ps_suppkey"), col("ps_supplycost"), col("ps_availqty")])
            .join(suppliers, JoinArgs::new(["ps_suppkey"], ["s_suppkey"], JoinType::Semi))
    };
    let value = || col("ps_supplycost") * col("ps_availqty");
    // The scalar subquery runs first, over the same rows as the main query: find them once.
    let german = german.collect()?;
    let total = LazyFrame::scan("german", &german).aggregate([value().sum().alias("total")]).collect()?;
    let total = Scalar::from_array(total.column("total")?.to_arrow()?.as_ref(), 0)?;
    Ok(LazyFrame::scan("german", &german)
        .group_by([col("ps_partkey")])
        .agg([value().sum().alias("value")])
        .filter(col("value").gt(lit(total) * dec("0.0001")?))
        .sort([SortKey::new(col("value")).descending(), SortKey::new(col("ps_partkey"))]))
}

/// TPC-H Q15 (top supplier) as a lazy query (1996-01-01, three months): the view's maximum
/// revenue runs first, at build time, and enters the plan as a literal.
pub fn q15_lazy(t: &Tables) -> Result<LazyFrame> {
    // The view runs once: its maximum and the main query both read the collected frame.
    let revenue = LazyFrame::scan("lineitem", &t.lineitem)
        .filter(col("l_shipdate").gt_eq(date("1996-01-01")?).and(col("l_shipdate").lt(date("1996-04-01")?)))
        .group_by([col("l_suppkey")])
        .agg([disc_price().sum().alias("total_revenue")])
        .collect()?;
    let best = LazyFrame::scan("revenue", &revenue).aggregate([col("total_revenue").max().alias("best")]).collect()?;
    let best = Scalar::from_array(best.column("best")?.to_arrow()?.as_ref(), 0)?;
    Ok(LazyFrame::scan("supplier", &t.supplier)
        .select([col("s_suppkey"), col("s_name"), col("s_address"), col("s_phone")])
        .join(
            LazyFrame::scan("revenue", &revenue).filter(col("total_revenue").eq(lit(best))),
            JoinArgs::new(["s_suppkey"], ["l_suppkey"], JoinType::Inner),
        )
        .select(["s_suppkey", "s_name", "s_address", "s_phone", "total_revenue"].map(col))
        .sort(["s_suppkey"]))
}

/// `nation` rows of the region named `region` (`n_nationkey`, `n_name`).
fn nations_in(t: &Tables, region: &str) -> LazyFrame {
    let r = LazyFrame::scan("region", &t.region).filter(col("r_name").eq(lit(region))).select([col("r_regionkey")]);
    LazyFrame::scan("nation", &t.nation)
        .select([col("n_nationkey"), col("n_name"), col("n_regionkey")])
        .join(r, JoinArgs::new(["n_regionkey"], ["r_regionkey"], JoinType::Semi))
        .select([col("n_nationkey"), col("n_name")])
}

/// TPC-H Q2 (minimum cost supplier; size 15, type `%BRASS`, region EUROPE): the correlated
/// minimum is a group-by of the candidate parts' European offers, joined back on part and cost.
pub fn q2_lazy(t: &Tables) -> Result<LazyFrame> {
    // The candidates: each brass part of size 15 with its European offers. The correlated minimum
    // is over the same part's European offers, so it is a group-by of the candidates (polars'
    // shape): a few hundred rows, not all of Europe's 160K offers.
    let suppliers = LazyFrame::scan("supplier", &t.supplier)
        .select(["s_suppkey", "s_name", "s_address", "s_nationkey", "s_phone", "s_acctbal", "s_comment"].map(col))
        .join(nations_in(t, "EUROPE"), JoinArgs::new(["s_nationkey"], ["n_nationkey"], JoinType::Inner));
    let candidates = LazyFrame::scan("part", &t.part)
        .filter(col("p_size").eq(lit(15)).and(col("p_type").like("%BRASS")))
        .select([col("p_partkey"), col("p_mfgr")])
        .join(
            LazyFrame::scan("partsupp", &t.partsupp).select([
                col("ps_partkey"),
                col("ps_suppkey"),
                col("ps_supplycost"),
            ]),
            JoinArgs::new(["p_partkey"], ["ps_partkey"], JoinType::Inner),
        )
        .join(suppliers, JoinArgs::new(["ps_suppkey"], ["s_suppkey"], JoinType::Inner));
    let cheapest = candidates.clone().group_by([col("p_partkey")]).agg([col("ps_supplycost").min().alias("min_cost")]);
    Ok(candidates
        .join(cheapest, JoinArgs::new(["p_partkey", "ps_supplycost"], ["p_partkey", "min_cost"], JoinType::Semi))
        .select(["s_acctbal", "s_name", "n_name", "p_partkey", "p_mfgr", "s_address", "s_phone", "s_comment"].map(col))
        .sort([
            SortKey::new(col("s_acctbal")).descending(),
            SortKey::new(col("n_name")),
            SortKey::new(col("s_name")),
            SortKey::new(col("p_partkey")),
        ])
        .head(100))
}

/// TPC-H Q7 (volume shipping between FRANCE and GERMANY, 1995-1996): `nation` joined twice
/// under two names, the year of the ship date as a group key.
pub fn q7_lazy(t: &Tables) -> Result<LazyFrame> {
    let pair = || [Scalar::Utf8("FRANCE".into()), Scalar::Utf8("GERMANY".into())];
    let nation = |key: &str, name: &str| {
        LazyFrame::scan("nation", &t.nation)
            .filter(col("n_name").is_in(pair()))
            .select([col("n_nationkey").alias(key), col("n_name").alias(name)])
    };
    let suppliers = LazyFrame::scan("supplier", &t.supplier)
        .select([col("s_suppkey"), col("s_nationkey")])
        .join(nation("n1_key", "supp_nation"), JoinArgs::new(["s_nationkey"], ["n1_key"], JoinType::Inner));
    let customers = LazyFrame::scan("customer", &t.customer)
        .select([col("c_custkey"), col("c_nationkey")])
        .join(nation("n2_key", "cust_nation"), JoinArgs::new(["c_nationkey"], ["n2_key"], JoinType::Inner));
    let orders = LazyFrame::scan("orders", &t.orders)
        .select([col("o_orderkey"), col("o_custkey")])
        .join(customers, JoinArgs::new(["o_custkey"], ["c_custkey"], JoinType::Inner));
    Ok(LazyFrame::scan("lineitem", &t.lineitem)
        .filter(col("l_shipdate").is_between(date("1995-01-01")?, date("1996-12-31")?))
        .select(["l_orderkey", "l_suppkey", "l_shipdate", "l_extendedprice", "l_discount"].map(col))
        .join(suppliers, JoinArgs::new(["l_suppkey"], ["s_suppkey"], JoinType::Inner))
        .join(orders, JoinArgs::new(["l_orderkey"], ["o_orderkey"], JoinType::Inner))
        .filter(col("supp_nation").neq(col("cust_nation")))
        .group_by([col("supp_nation"), col("cust_nation"), col("l_shipdate").year().alias("l_year")])
        .agg([disc_price().sum().alias("revenue")])
        .sort(["supp_nation", "cust_nation", "l_year"]))
}

/// TPC-H Q8 (BRAZIL's market share in AMERICA for `ECONOMY ANODIZED STEEL`, 1995-1996): a
/// conditional sum over a sum per year, the ratio in f64 as SQL divides decimals.
pub fn q8_lazy(t: &Tables) -> Result<LazyFrame> {
    let customers = LazyFrame::scan("customer", &t.customer)
        .select([col("c_custkey"), col("c_nationkey")])
        .join(nations_in(t, "AMERICA"), JoinArgs::new(["c_nationkey"], ["n_nationkey"], JoinType::Semi));
    let orders = LazyFrame::scan("orders", &t.orders)
        .filter(col("o_orderdate").is_between(date("1995-01-01")?, date("1996-12-31")?))
        .select([col("o_orderkey"), col("o_custkey"), col("o_orderdate")])
        .join(customers, JoinArgs::new(["o_custkey"], ["c_custkey"], JoinType::Semi));
    let parts = LazyFrame::scan("part", &t.part)
        .filter(col("p_type").eq(lit("ECONOMY ANODIZED STEEL")))
        .select([col("p_partkey")]);
    let suppliers = LazyFrame::scan("supplier", &t.supplier).select([col("s_suppkey"), col("s_nationkey")]).join(
        LazyFrame::scan("nation", &t.nation).select([col("n_nationkey"), col("n_name")]),
        JoinArgs::new(["s_nationkey"], ["n_nationkey"], JoinType::Inner),
    );
    let brazil = when(col("n_name").eq(lit("BRAZIL"))).then(disc_price()).otherwise(lit(0));
    Ok(LazyFrame::scan("lineitem", &t.lineitem)
        .select(["l_orderkey", "l_partkey", "l_suppkey", "l_extendedprice", "l_discount"].map(col))
        .join(parts, JoinArgs::new(["l_partkey"], ["p_partkey"], JoinType::Semi))
        .join(orders, JoinArgs::new(["l_orderkey"], ["o_orderkey"], JoinType::Inner))
        .join(suppliers, JoinArgs::new(["l_suppkey"], ["s_suppkey"], JoinType::Inner))
        .group_by([col("o_orderdate").year().alias("o_year")])
        .agg([brazil.sum().alias("brazil"), disc_price().sum().alias("total")])
        .select([
            col("o_year"),
            (col("brazil").cast(DType::Float64) / col("total").cast(DType::Float64)).alias("mkt_share"),
        ])
        .sort(["o_year"]))
}

/// TPC-H Q9 (product type profit for parts named `%green%`): a two-key join of `lineitem` with
/// `partsupp`, profit per nation and year.
pub fn q9_lazy(t: &Tables) -> Result<LazyFrame> {
    let parts = LazyFrame::scan("part", &t.part).filter(col("p_name").like("%green%")).select([col("p_partkey")]);
    let suppliers = LazyFrame::scan("supplier", &t.supplier).select([col("s_suppkey"), col("s_nationkey")]).join(
        LazyFrame::scan("nation", &t.nation).select([col("n_nationkey"), col("n_name")]),
        JoinArgs::new(["s_nationkey"], ["n_nationkey"], JoinType::Inner),
    );
    let amount = disc_price() - col("ps_supplycost") * col("l_quantity");
    Ok(LazyFrame::scan("lineitem", &t.lineitem)
        .select(["l_orderkey", "l_partkey", "l_suppkey", "l_quantity", "l_extendedprice", "l_discount"].map(col))
        .join(parts, JoinArgs::new(["l_partkey"], ["p_partkey"], JoinType::Semi))
        .join(
            LazyFrame::scan("partsupp", &t.partsupp).select([
                col("ps_partkey"),
                col("ps_suppkey"),
                col("ps_supplycost"),
            ]),
            JoinArgs::new(["l_partkey", "l_suppkey"], ["ps_partkey", "ps_suppkey"], JoinType::Inner),
        )
        .join(suppliers, JoinArgs::new(["l_suppkey"], ["s_suppkey"], JoinType::Inner))
        .join(
            LazyFrame::scan("orders", &t.orders).select([col("o_orderkey"), col("o_orderdate")]),
            JoinArgs::new(["l_orderkey"], ["o_orderkey"], JoinType::Inner),
        )
        .group_by([col("n_name").alias("nation"), col("o_orderdate").year().alias("o_year")])
        .agg([amount.sum().alias("sum_profit")])
        .sort([SortKey::new(col("nation")), SortKey::new(col("o_year")).descending()]))
}

/// TPC-H Q12 (shipping modes MAIL and SHIP, receipt in 1994): conditional counts as sums of a
/// `when/then/otherwise`.
pub fn q12_lazy(t: &Tables) -> Result<LazyFrame> {
    let urgent = || col("o_orderpriority").is_in([Scalar::Utf8("1-URGENT".into()), Scalar::Utf8("2-HIGH".into())]);
    let lines = LazyFrame::scan("lineitem", &t.lineitem)
        .filter(
            col("l_shipmode")
                .is_in([Scalar::Utf8("MAIL".into()), Scalar::Utf8("SHIP".into())])
                .and(col("l_commitdate").lt(col("l_receiptdate")))
                .and(col("l_shipdate").lt(col("l_commitdate")))
                .and(col("l_receiptdate").gt_eq(date("1994-01-01")?))
                .and(col("l_receiptdate").lt(date("1995-01-01")?)),
        )
        .select([col("l_orderkey"), col("l_shipmode")]);
    Ok(LazyFrame::scan("orders", &t.orders)
        .select([col("o_orderkey"), col("o_orderpriority")])
        .join(lines, JoinArgs::new(["o_orderkey"], ["l_orderkey"], JoinType::Inner))
        .group_by([col("l_shipmode")])
        .agg([
            when(urgent()).then(lit(1)).otherwise(lit(0)).sum().alias("high_line_count"),
            when(urgent()).then(lit(0)).otherwise(lit(1)).sum().alias("low_line_count"),
        ])
        .sort(["l_shipmode"]))
}

/// TPC-H Q13 (customer distribution): a left join (customers without orders count 0), orders
/// whose comment is not `%special%requests%`, then a group-by of a group-by.
pub fn q13_lazy(t: &Tables) -> Result<LazyFrame> {
    let orders = LazyFrame::scan("orders", &t.orders)
        .filter(!col("o_comment").like("%special%requests%"))
        .select([col("o_orderkey"), col("o_custkey")]);
    Ok(LazyFrame::scan("customer", &t.customer)
        .select([col("c_custkey")])
        .join(orders, JoinArgs::new(["c_custkey"], ["o_custkey"], JoinType::Left))
        .group_by([col("c_custkey")])
        .agg([col("o_orderkey").count().alias("c_count")])
        .group_by([col("c_count")])
        .agg([col("c_custkey").len().alias("custdist")])
        .sort([SortKey::new(col("custdist")).descending(), SortKey::new(col("c_count")).descending()]))
}

/// TPC-H Q14 (promotion effect, September 1995): a ratio of a conditional sum to a sum, in f64.
pub fn q14_lazy(t: &Tables) -> Result<LazyFrame> {
    let promo = when(col("p_type").like("PROMO%")).then(disc_price()).otherwise(lit(0));
    Ok(LazyFrame::scan("lineitem", &t.lineitem)
        .filter(col("l_shipdate").gt_eq(date("1995-09-01")?).and(col("l_shipdate").lt(date("1995-10-01")?)))
        .select([col("l_partkey"), col("l_extendedprice"), col("l_discount")])
        .join(
            LazyFrame::scan("part", &t.part).select([col("p_partkey"), col("p_type")]),
            JoinArgs::new(["l_partkey"], ["p_partkey"], JoinType::Inner),
        )
        .aggregate([promo.sum().alias("promo"), disc_price().sum().alias("total")])
        .select([((dec("100.00")? * col("promo")).cast(DType::Float64) / col("total").cast(DType::Float64))
            .alias("promo_revenue")]))
}

/// TPC-H Q16 (parts/supplier relationship): `NOT IN` a subquery is an anti join, `count(DISTINCT)`
/// is `n_unique`.
pub fn q16_lazy(t: &Tables) -> Result<LazyFrame> {
    let complaints = LazyFrame::scan("supplier", &t.supplier)
        .filter(col("s_comment").like("%Customer%Complaints%"))
        .select([col("s_suppkey")]);
    let sizes = [49, 14, 23, 45, 19, 3, 36, 9].map(Scalar::Int32);
    let parts = LazyFrame::scan("part", &t.part)
        .filter(
            col("p_brand")
                .neq(lit("Brand#45"))
                .and(!col("p_type").like("MEDIUM POLISHED%"))
                .and(col("p_size").is_in(sizes)),
        )
        .select([col("p_partkey"), col("p_brand"), col("p_type"), col("p_size")]);
    // The part join first (it keeps 118K of 800K rows at SF1), then the anti join: polars'
    // query set joins in this order too.
    Ok(LazyFrame::scan("partsupp", &t.partsupp)
        .select([col("ps_partkey"), col("ps_suppkey")])
        .join(parts, JoinArgs::new(["ps_partkey"], ["p_partkey"], JoinType::Inner))
        .join(complaints, JoinArgs::new(["ps_suppkey"], ["s_suppkey"], JoinType::Anti))
        .group_by([col("p_brand"), col("p_type"), col("p_size")])
        .agg([col("ps_suppkey").n_unique().alias("supplier_cnt")])
        .sort([
            SortKey::new(col("supplier_cnt")).descending(),
            SortKey::new(col("p_brand")),
            SortKey::new(col("p_type")),
            SortKey::new(col("p_size")),
        ]))
}

/// TPC-H Q17 (small-quantity-order revenue; Brand#23, MED BOX): the correlated average is a
/// group-by per part joined back. SQL's `sum` of no rows is null, so the answer is null when no
/// line qualifies (ember's `sum`, like polars', would give 0).
pub fn q17_lazy(t: &Tables) -> Result<LazyFrame> {
    let parts = LazyFrame::scan("part", &t.part)
        .filter(col("p_brand").eq(lit("Brand#23")).and(col("p_container").eq(lit("MED BOX"))))
        .select([col("p_partkey")]);
    let lines = LazyFrame::scan("lineitem", &t.lineitem)
        .select([col("l_partkey"), col("l_quantity"), col("l_extendedprice")])
        .join(parts, JoinArgs::new(["l_partkey"], ["p_partkey"], JoinType::Semi));
    let averages = lines.clone().group_by([col("l_partkey")]).agg([col("l_quantity").mean().alias("avg_qty")]);
    Ok(lines
        .join(averages, JoinArgs::new(["l_partkey"], ["l_partkey"], JoinType::Inner))
        .filter(col("l_quantity").lt(dec("0.2")? * col("avg_qty")))
        .aggregate([col("l_extendedprice").sum().alias("total"), col("l_extendedprice").count().alias("n")])
        .select([when(col("n").gt(lit(0u64)))
            .then(col("total").cast(DType::Float64) / lit(7.0))
            .otherwise(lit(Scalar::Null))
            .alias("avg_yearly")]))
}

/// TPC-H Q20 (potential part promotion; `forest%`, CANADA, 1994): the correlated half-sum is a
/// two-key group-by joined to `partsupp`.
pub fn q20_lazy(t: &Tables) -> Result<LazyFrame> {
    let forest = LazyFrame::scan("part", &t.part).filter(col("p_name").like("forest%")).select([col("p_partkey")]);
    // Only forest parts' shipments matter: the semi join comes before the group-by (1/20 of the rows).
    let shipped = LazyFrame::scan("lineitem", &t.lineitem)
        .filter(col("l_shipdate").gt_eq(date("1994-01-01")?).and(col("l_shipdate").lt(date("1995-01-01")?)))
        .join(forest.clone(), JoinArgs::new(["l_partkey"], ["p_partkey"], JoinType::Semi))
        .group_by([col("l_partkey"), col("l_suppkey")])
        .agg([col("l_quantity").sum().alias("qty")]);
    let offers = LazyFrame::scan("partsupp", &t.partsupp)
        .select([col("ps_partkey"), col("ps_suppkey"), col("ps_availqty")])
        .join(forest, JoinArgs::new(["ps_partkey"], ["p_partkey"], JoinType::Semi))
        .join(shipped, JoinArgs::new(["ps_partkey", "ps_suppkey"], ["l_partkey", "l_suppkey"], JoinType::Inner))
        .filter(col("ps_availqty").gt(dec("0.5")? * col("qty")))
        .select([col("ps_suppkey")]);
    let canada =
        LazyFrame::scan("nation", &t.nation).filter(col("n_name").eq(lit("CANADA"))).select([col("n_nationkey")]);
    Ok(LazyFrame::scan("supplier", &t.supplier)
        .select([col("s_suppkey"), col("s_name"), col("s_address"), col("s_nationkey")])
        .join(canada, JoinArgs::new(["s_nationkey"], ["n_nationkey"], JoinType::Semi))
        .join(offers, JoinArgs::new(["s_suppkey"], ["ps_suppkey"], JoinType::Semi))
        .select([col("s_name"), col("s_address")])
        .sort(["s_name"]))
}

/// TPC-H Q21 (suppliers who kept orders waiting; SAUDI ARABIA): `EXISTS` another supplier on
/// the order is "the order has at least two suppliers", `NOT EXISTS` another late supplier is
/// "this late line's supplier is the order's only late one" (both `n_unique` per order).
pub fn q21_lazy(t: &Tables) -> Result<LazyFrame> {
    let late = |lines: LazyFrame| lines.filter(col("l_receiptdate").gt(col("l_commitdate")));
    let lineitem = || {
        LazyFrame::scan("lineitem", &t.lineitem)
            .select(["l_orderkey", "l_suppkey", "l_commitdate", "l_receiptdate"].map(col))
    };
    let saudi =
        LazyFrame::scan("nation", &t.nation).filter(col("n_name").eq(lit("SAUDI ARABIA"))).select([col("n_nationkey")]);
    let suppliers = LazyFrame::scan("supplier", &t.supplier)
        .select([col("s_suppkey"), col("s_name"), col("s_nationkey")])
        .join(saudi, JoinArgs::new(["s_nationkey"], ["n_nationkey"], JoinType::Semi));
    let failed =
        LazyFrame::scan("orders", &t.orders).filter(col("o_orderstatus").eq(lit("F"))).select([col("o_orderkey")]);
    // l1: the candidate rows. The EXISTS / NOT EXISTS subqueries only look at their orders' lines,
    // so those are found first (a semi join on l1's order keys) and grouped, not all of lineitem.
    // The join with the few Saudi suppliers goes before the date filter (which keeps 63% of
    // lineitem; the join 4%).
    let l1 = late(lineitem().join(suppliers, JoinArgs::new(["l_suppkey"], ["s_suppkey"], JoinType::Inner)))
        .select([col("l_orderkey"), col("l_suppkey"), col("s_name")])
        .join(failed, JoinArgs::new(["l_orderkey"], ["o_orderkey"], JoinType::Semi));
    let orders_of_l1 = l1.clone().select([col("l_orderkey")]).unique(None, Keep::First);
    let lines = lineitem().join(orders_of_l1, JoinArgs::new(["l_orderkey"], ["l_orderkey"], JoinType::Semi));
    let multi = lines
        .clone()
        .group_by([col("l_orderkey")])
        .agg([col("l_suppkey").n_unique().alias("n_supp")])
        .filter(col("n_supp").gt(lit(1u64)))
        .select([col("l_orderkey")]);
    let alone = late(lines)
        .group_by([col("l_orderkey")])
        .agg([col("l_suppkey").n_unique().alias("n_late")])
        .filter(col("n_late").eq(lit(1u64)))
        .select([col("l_orderkey")]);
    Ok(l1
        .join(multi, JoinArgs::new(["l_orderkey"], ["l_orderkey"], JoinType::Semi))
        .join(alone, JoinArgs::new(["l_orderkey"], ["l_orderkey"], JoinType::Semi))
        .group_by([col("s_name")])
        .agg([col("l_orderkey").len().alias("numwait")])
        .sort([SortKey::new(col("numwait")).descending(), SortKey::new(col("s_name"))])
        .head(100))
}

/// TPC-H Q22 (global sales opportunity): the country code is a two-character slice of the phone
/// number, the scalar average runs first (as Q11's total), `NOT EXISTS` is an anti join.
pub fn q22_lazy(t: &Tables) -> Result<LazyFrame> {
    let codes = ["13", "31", "23", "29", "30", "18", "17"].map(|c| Scalar::Utf8(c.into()));
    let customers = || {
        LazyFrame::scan("customer", &t.customer)
            .select([col("c_custkey"), col("c_phone").str_slice(0, Some(2)).alias("cntrycode"), col("c_acctbal")])
            .filter(col("cntrycode").is_in(codes.clone()))
    };
    let avg = customers()
        .filter(col("c_acctbal").gt(dec("0.00")?))
        .aggregate([col("c_acctbal").mean().alias("avg")])
        .collect()?;
    let avg = Scalar::from_array(avg.column("avg")?.to_arrow()?.as_ref(), 0)?;
    let orders = LazyFrame::scan("orders", &t.orders).select([col("o_custkey")]);
    Ok(customers()
        .filter(col("c_acctbal").gt(lit(avg)))
        .join(orders, JoinArgs::new(["c_custkey"], ["o_custkey"], JoinType::Anti))
        .group_by([col("cntrycode")])
        .agg([col("c_custkey").len().alias("numcust"), col("c_acctbal").sum().alias("totacctbal")])
        .sort(["cntrycode"]))
}

/// The eight TPC-H tables at one scale factor, on one device.
#[derive(Debug, Clone)]
pub struct Tables {
    /// `lineitem`.
    pub lineitem: DataFrame,
    /// `orders`.
    pub orders: DataFrame,
    /// `customer`.
    pub customer: DataFrame,
    /// `supplier`.
    pub supplier: DataFrame,
    /// `part`.
    pub part: DataFrame,
    /// `partsupp`.
    pub partsupp: DataFrame,
    /// `nation`.
    pub nation: DataFrame,
    /// `region`.
    pub region: DataFrame,
}

impl Tables {
    /// Generates all eight at scale factor `sf` and moves them to `device`.
    pub fn generate(sf: f64, device: Device) -> Result<Tables> {
        Ok(Tables {
            lineitem: lineitem(sf)?.to(device)?,
            orders: orders(sf)?.to(device)?,
            customer: customer(sf)?.to(device)?,
            supplier: supplier(sf)?.to(device)?,
            part: part(sf)?.to(device)?,
            partsupp: partsupp(sf)?.to(device)?,
            nation: nation(sf)?.to(device)?,
            region: region(sf)?.to(device)?,
        })
    }

    /// Reads all eight from `dir`, as `tpchgen-cli` writes them: `<table>.parquet`, a directory
    /// `<table>/` of Parquet parts, or `<table>.csv` (with the generator's column types, so
    /// decimals stay exact), decoded on `device`.
    pub fn read(dir: impl AsRef<std::path::Path>, device: Device) -> Result<Tables> {
        let dir = dir.as_ref();
        let load = |name: &str| -> Result<DataFrame> {
            let parquet = dir.join(format!("{name}.parquet"));
            let parts = dir.join(name);
            let csv = dir.join(format!("{name}.csv"));
            // Decoded on `device` (the GPU decoders on a GPU).
            let df = if parquet.is_file() {
                crate::io::read_parquet_on(&parquet, &Default::default(), device, None)?
            } else if parts.is_dir() {
                crate::io::read_parquet_on(&parts, &Default::default(), device, None)?
            } else if csv.is_file() {
                let schema = table(name, 0.001)?.fields().to_vec();
                crate::io::read_csv_on(&csv, &crate::CsvReadOptions::default().with_schema(schema), device, None)?
            } else {
                return Err(Error::InvalidArgument(format!(
                    "{}: no {name}.parquet, {name}/ or {name}.csv",
                    dir.display()
                )));
            };
            Ok(df)
        };
        Ok(Tables {
            lineitem: load("lineitem")?,
            orders: load("orders")?,
            customer: load("customer")?,
            supplier: load("supplier")?,
            part: load("part")?,
            partsupp: load("partsupp")?,
            nation: load("nation")?,
            region: load("region")?,
        })
    }

    /// Writes all eight to `dir` as `<table>.parquet` or `<table>.csv`.
    pub fn write(&self, dir: impl AsRef<std::path::Path>, format: crate::io::FileFormat) -> Result<()> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| Error::Io { path: dir.display().to_string(), source: e })?;
        for (name, df) in self.named() {
            match format {
                crate::io::FileFormat::Parquet => {
                    crate::write_parquet(df, dir.join(format!("{name}.parquet")), &Default::default())?
                }
                crate::io::FileFormat::Csv => {
                    crate::write_csv(df, dir.join(format!("{name}.csv")), &Default::default())?
                }
            }
        }
        Ok(())
    }

    /// `(name, frame)` of each table.
    pub fn named(&self) -> [(&'static str, &DataFrame); 8] {
        [
            ("lineitem", &self.lineitem),
            ("orders", &self.orders),
            ("customer", &self.customer),
            ("supplier", &self.supplier),
            ("part", &self.part),
            ("partsupp", &self.partsupp),
            ("nation", &self.nation),
            ("region", &self.region),
        ]
    }
}

/// Table `name` (`"lineitem"`, …) generated at scale factor `sf`.
pub fn table(name: &str, sf: f64) -> Result<DataFrame> {
    match name {
        "lineitem" => lineitem(sf),
        "orders" => orders(sf),
        "customer" => customer(sf),
        "supplier" => supplier(sf),
        "part" => part(sf),
        "partsupp" => partsupp(sf),
        "nation" => nation(sf),
        "region" => region(sf),
        other => Err(Error::InvalidArgument(format!("no TPC-H table {other:?}"))),
    }
}

/// Q6's `WHERE` clause.
pub fn q6_predicate() -> Result<Expr> {
    Ok(col("l_shipdate")
        .gt_eq(date("1994-01-01")?)
        .and(col("l_shipdate").lt(date("1995-01-01")?))
        .and(col("l_discount").is_between(dec("0.05")?, dec("0.07")?))
        .and(col("l_quantity").lt(lit(24))))
}

/// The TPC-H queries, by number (all 22).
pub const QUERIES: &[u32] = &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22];

/// Query `q` (1 to 22) over `t`, as a lazy query. Q11, Q15 and Q22 run their scalar subquery
/// here, before the main query (its result enters the plan as a literal).
pub fn query(q: u32, t: &Tables) -> Result<LazyFrame> {
    Ok(match q {
        1 => q1_lazy(&t.lineitem)?,
        2 => q2_lazy(t)?,
        3 => q3_lazy(&t.customer, &t.orders, &t.lineitem)?,
        4 => q4_lazy(&t.orders, &t.lineitem)?,
        5 => q5_lazy(t)?,
        6 => q6_lazy(&t.lineitem)?,
        7 => q7_lazy(t)?,
        8 => q8_lazy(t)?,
        9 => q9_lazy(t)?,
        10 => q10_lazy(t)?,
        11 => q11_lazy(t)?,
        12 => q12_lazy(t)?,
        13 => q13_lazy(t)?,
        14 => q14_lazy(t)?,
        15 => q15_lazy(t)?,
        16 => q16_lazy(t)?,
        17 => q17_lazy(t)?,
        18 => q18_lazy(&t.customer, &t.orders, &t.lineitem)?,
        19 => q19_lazy(t)?,
        20 => q20_lazy(t)?,
        21 => q21_lazy(t)?,
        22 => q22_lazy(t)?,
        _ => return Err(Error::InvalidArgument(format!("TPC-H has queries 1 to 22, not {q}"))),
    })
}

/// Runs query `q` on tables generated at scale factor `sf` and moved to `device`; the answer as a
/// CPU record batch (Q6's one row included).
pub fn run_query(q: u32, sf: f64, device: Device) -> Result<arrow::array::RecordBatch> {
    let t = Tables::generate(sf, device)?;
    query(q, &t)?.collect()?.to_record_batch()
}

/// `batch` as text: a header row, then one row per record, values as ember prints them (decimals
/// exact, dates ISO), separated by `sep` (`","` gives the CSV the examples write).
pub fn format_table(batch: &arrow::array::RecordBatch, sep: &str) -> Result<String> {
    let names: Vec<&str> = batch.schema_ref().fields().iter().map(|f| f.name().as_str()).collect();
    let mut out = names.join(sep);
    out.push('\n');
    for r in 0..batch.num_rows() {
        let row = batch
            .columns()
            .iter()
            .map(|c| Ok(Scalar::from_array(c.as_ref(), r)?.to_string()))
            .collect::<Result<Vec<_>>>()?;
        out.push_str(&row.join(sep));
        out.push('\n');
    }
    Ok(out)
}

//! The 22 TPC-H queries in polars' Rust lazy API: the baseline of `ember-bench tpch`.
//!
//! Written the way a polars user writes them (and as `../shared/peers/peers_tpch.py` does in
//! Python): joins keep the left key and drop the right one, correlated subqueries become
//! window expressions or semi / anti joins. Decimals stay decimals; where polars would round a
//! decimal quotient to the operands' scale (Q8, Q14) the share is computed in floats.
use ember::prelude::{Error, Result, Scalar};
use polars::prelude::{self as pl, col, lit, when, ClosedInterval, Expr, JoinArgs, JoinType, LazyFrame, NamedFrom};

/// The eight tables as polars lazy frames.
#[derive(Clone)]
pub struct PlTables {
    /// `lineitem`.
    pub lineitem: LazyFrame,
    /// `orders`.
    pub orders: LazyFrame,
    /// `customer`.
    pub customer: LazyFrame,
    /// `supplier`.
    pub supplier: LazyFrame,
    /// `part`.
    pub part: LazyFrame,
    /// `partsupp`.
    pub partsupp: LazyFrame,
    /// `nation`.
    pub nation: LazyFrame,
    /// `region`.
    pub region: LazyFrame,
}

impl std::fmt::Debug for PlTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlTables(lineitem, orders, customer, supplier, part, partsupp, nation, region)")
    }
}

/// A date literal from `YYYY-MM-DD`.
fn d(s: &str) -> Expr {
    match Scalar::parse_date(s) {
        Ok(Scalar::Date32(days)) => lit(days).cast(pl::DataType::Date),
        other => panic!("bad date literal {s:?}: {other:?}"),
    }
}

/// A decimal(15, 2) literal with `cents` hundredths (built by casting the exact float).
pub(crate) fn dec(cents: i64) -> Expr {
    lit(cents as f64 / 100.0).cast(pl::DataType::Decimal(15, 2))
}

/// `l_extendedprice * (1 - l_discount)`.
fn rev() -> Expr {
    col("l_extendedprice") * (dec(100) - col("l_discount"))
}

/// `lo <= c < hi`.
fn range(c: &str, lo: &str, hi: &str) -> Expr {
    col(c).is_between(d(lo), d(hi), ClosedInterval::Left)
}

/// SQL's `SUM`: null over no rows.
fn sql_sum(e: Expr) -> Expr {
    when(e.clone().count().gt(lit(0))).then(e.sum()).otherwise(lit(pl::NULL))
}

fn strs(values: &[&str]) -> Expr {
    lit(pl::Series::new("".into(), values)).implode(false)
}

fn ints(values: &[i32]) -> Expr {
    lit(pl::Series::new("".into(), values)).implode(false)
}

fn join(l: LazyFrame, r: LazyFrame, lk: &[&str], rk: &[&str], how: JoinType) -> LazyFrame {
    let keys = |k: &[&str]| k.iter().map(|&c| col(c)).collect::<Vec<_>>();
    l.join(r, keys(lk), keys(rk), JoinArgs::new(how))
}

fn inner(l: LazyFrame, r: LazyFrame, lk: &str, rk: &str) -> LazyFrame {
    join(l, r, &[lk], &[rk], JoinType::Inner)
}

fn sort(lf: LazyFrame, by: &[&str], descending: &[bool]) -> LazyFrame {
    let opts = pl::SortMultipleOptions::default().with_order_descending_multi(descending.to_vec());
    lf.sort(by.iter().map(|&s| pl::PlSmallStr::from(s)).collect::<Vec<_>>(), opts)
}

fn over(e: Expr, by: &str) -> Result<Expr> {
    e.over([col(by)]).map_err(|e| Error::Internal(format!("polars: {e}")))
}

/// Q6 over `lineitem` alone.
pub fn q6(lineitem: LazyFrame) -> LazyFrame {
    lineitem
        .filter(
            range("l_shipdate", "1994-01-01", "1995-01-01")
                .and(col("l_discount").is_between(dec(5), dec(7), ClosedInterval::Both))
                .and(col("l_quantity").lt(dec(2400))),
        )
        .select([sql_sum(col("l_extendedprice") * col("l_discount")).alias("revenue")])
}

/// Query `q` (1 to 22) as a polars lazy frame over `t`.
pub fn query(q: u32, t: &PlTables) -> Result<LazyFrame> {
    let t = t.clone();
    Ok(match q {
        1 => sort(
            t.lineitem
                .filter(col("l_shipdate").lt_eq(d("1998-09-02")))
                .group_by([col("l_returnflag"), col("l_linestatus")])
                .agg([
                    col("l_quantity").sum().alias("sum_qty"),
                    col("l_extendedprice").sum().alias("sum_base_price"),
                    rev().sum().alias("sum_disc_price"),
                    (rev() * (dec(100) + col("l_tax"))).sum().alias("sum_charge"),
                    col("l_quantity").mean().alias("avg_qty"),
                    col("l_extendedprice").mean().alias("avg_price"),
                    col("l_discount").mean().alias("avg_disc"),
                    pl::len().alias("count_order"),
                ]),
            &["l_returnflag", "l_linestatus"],
            &[false, false],
        ),
        2 => {
            let europe = inner(
                inner(
                    inner(t.region.filter(col("r_name").eq(lit("EUROPE"))), t.nation, "r_regionkey", "n_regionkey"),
                    t.supplier,
                    "n_nationkey",
                    "s_nationkey",
                ),
                t.partsupp,
                "s_suppkey",
                "ps_suppkey",
            );
            let parts = t.part.filter(col("p_size").eq(lit(15)).and(col("p_type").str().ends_with(lit("BRASS"))));
            sort(
                inner(parts, europe, "p_partkey", "ps_partkey")
                    .filter(col("ps_supplycost").eq(over(col("ps_supplycost").min(), "p_partkey")?))
                    .select(
                        ["s_acctbal", "s_name", "n_name", "p_partkey", "p_mfgr", "s_address", "s_phone", "s_comment"]
                            .map(col),
                    ),
                &["s_acctbal", "n_name", "s_name", "p_partkey"],
                &[true, false, false, false],
            )
            .limit(100)
        }
        3 => {
            let c = t.customer.filter(col("c_mktsegment").eq(lit("BUILDING")));
            let o = t.orders.filter(col("o_orderdate").lt(d("1995-03-15")));
            let l = t.lineitem.filter(col("l_shipdate").gt(d("1995-03-15")));
            sort(
                inner(inner(c, o, "c_custkey", "o_custkey"), l, "o_orderkey", "l_orderkey")
                    .group_by([col("o_orderkey"), col("o_orderdate"), col("o_shippriority")])
                    .agg([rev().sum().alias("revenue")])
                    .select([
                        col("o_orderkey").alias("l_orderkey"),
                        col("revenue"),
                        col("o_orderdate"),
                        col("o_shippriority"),
                    ]),
                &["revenue", "o_orderdate"],
                &[true, false],
            )
            .limit(10)
        }
        4 => sort(
            join(
                t.orders.filter(range("o_orderdate", "1993-07-01", "1993-10-01")),
                t.lineitem.filter(col("l_commitdate").lt(col("l_receiptdate"))),
                &["o_orderkey"],
                &["l_orderkey"],
                JoinType::Semi,
            )
            .group_by([col("o_orderpriority")])
            .agg([pl::len().alias("order_count")]),
            &["o_orderpriority"],
            &[false],
        ),
        5 => {
            let asia = t.region.filter(col("r_name").eq(lit("ASIA")));
            let a =
                inner(inner(asia, t.nation, "r_regionkey", "n_regionkey"), t.customer, "n_nationkey", "c_nationkey");
            let o = t.orders.filter(range("o_orderdate", "1994-01-01", "1995-01-01"));
            let a = inner(inner(a, o, "c_custkey", "o_custkey"), t.lineitem, "o_orderkey", "l_orderkey");
            let a = join(a, t.supplier, &["l_suppkey", "n_nationkey"], &["s_suppkey", "s_nationkey"], JoinType::Inner);
            sort(a.group_by([col("n_name")]).agg([rev().sum().alias("revenue")]), &["revenue"], &[true])
        }
        6 => q6(t.lineitem),
        7 => {
            let fr_de = t.nation.filter(col("n_name").is_in(strs(&["FRANCE", "GERMANY"]), false));
            let supp = inner(
                t.supplier,
                fr_de.clone().select([col("n_nationkey"), col("n_name").alias("supp_nation")]),
                "s_nationkey",
                "n_nationkey",
            );
            let cust = inner(
                t.customer,
                fr_de.select([col("n_nationkey"), col("n_name").alias("cust_nation")]),
                "c_nationkey",
                "n_nationkey",
            );
            let l =
                t.lineitem.filter(col("l_shipdate").is_between(d("1995-01-01"), d("1996-12-31"), ClosedInterval::Both));
            let a = inner(
                inner(inner(l, supp, "l_suppkey", "s_suppkey"), t.orders, "l_orderkey", "o_orderkey"),
                cust,
                "o_custkey",
                "c_custkey",
            );
            sort(
                a.filter(col("supp_nation").neq(col("cust_nation")))
                    .group_by([col("supp_nation"), col("cust_nation"), col("l_shipdate").dt().year().alias("l_year")])
                    .agg([rev().sum().alias("revenue")]),
                &["supp_nation", "cust_nation", "l_year"],
                &[false, false, false],
            )
        }
        8 => {
            let volume = rev().cast(pl::DataType::Float64);
            let p = t.part.filter(col("p_type").eq(lit("ECONOMY ANODIZED STEEL")));
            let o =
                t.orders.filter(col("o_orderdate").is_between(d("1995-01-01"), d("1996-12-31"), ClosedInterval::Both));
            let a = inner(
                inner(inner(p, t.lineitem, "p_partkey", "l_partkey"), t.supplier, "l_suppkey", "s_suppkey"),
                o,
                "l_orderkey",
                "o_orderkey",
            );
            let a = inner(a, t.customer, "o_custkey", "c_custkey");
            let a = inner(
                a,
                t.nation.clone().select([col("n_nationkey"), col("n_regionkey")]),
                "c_nationkey",
                "n_nationkey",
            );
            let a = inner(a, t.region.filter(col("r_name").eq(lit("AMERICA"))), "n_regionkey", "r_regionkey");
            let a = inner(
                a,
                t.nation.select([col("n_nationkey"), col("n_name").alias("nation")]),
                "s_nationkey",
                "n_nationkey",
            );
            let brazil = when(col("nation").eq(lit("BRAZIL"))).then(volume.clone()).otherwise(lit(0.0));
            sort(
                a.group_by([col("o_orderdate").dt().year().alias("o_year")])
                    .agg([(brazil.sum() / volume.sum()).alias("mkt_share")]),
                &["o_year"],
                &[false],
            )
        }
        9 => {
            let p = t.part.filter(col("p_name").str().contains_literal(lit("green")));
            let a = inner(p, t.lineitem, "p_partkey", "l_partkey");
            let a = join(a, t.partsupp, &["p_partkey", "l_suppkey"], &["ps_partkey", "ps_suppkey"], JoinType::Inner);
            let a = inner(
                inner(inner(a, t.supplier, "l_suppkey", "s_suppkey"), t.orders, "l_orderkey", "o_orderkey"),
                t.nation,
                "s_nationkey",
                "n_nationkey",
            );
            sort(
                a.group_by([col("n_name").alias("nation"), col("o_orderdate").dt().year().alias("o_year")])
                    .agg([(rev() - col("ps_supplycost") * col("l_quantity")).sum().alias("sum_profit")]),
                &["nation", "o_year"],
                &[false, true],
            )
        }
        10 => {
            let o = t.orders.filter(range("o_orderdate", "1993-10-01", "1994-01-01"));
            let l = t.lineitem.filter(col("l_returnflag").eq(lit("R")));
            let a = inner(
                inner(inner(t.customer, o, "c_custkey", "o_custkey"), l, "o_orderkey", "l_orderkey"),
                t.nation,
                "c_nationkey",
                "n_nationkey",
            );
            let keys = ["c_custkey", "c_name", "c_acctbal", "c_phone", "n_name", "c_address", "c_comment"].map(col);
            sort(
                a.group_by(keys).agg([rev().sum().alias("revenue")]).select(
                    ["c_custkey", "c_name", "revenue", "c_acctbal", "n_name", "c_address", "c_phone", "c_comment"]
                        .map(col),
                ),
                &["revenue"],
                &[true],
            )
            .limit(20)
        }
        11 => {
            let a = inner(
                inner(t.nation.filter(col("n_name").eq(lit("GERMANY"))), t.supplier, "n_nationkey", "s_nationkey"),
                t.partsupp,
                "s_suppkey",
                "ps_suppkey",
            );
            sort(
                a.group_by([col("ps_partkey")])
                    .agg([(col("ps_supplycost") * col("ps_availqty")).sum().alias("value")])
                    .filter(col("value").gt(col("value").sum() * lit(0.0001))),
                &["value"],
                &[true],
            )
        }
        12 => {
            let high = col("o_orderpriority").is_in(strs(&["1-URGENT", "2-HIGH"]), false);
            let l = t.lineitem.filter(
                col("l_shipmode")
                    .is_in(strs(&["MAIL", "SHIP"]), false)
                    .and(col("l_commitdate").lt(col("l_receiptdate")))
                    .and(col("l_shipdate").lt(col("l_commitdate")))
                    .and(range("l_receiptdate", "1994-01-01", "1995-01-01")),
            );
            sort(
                inner(l, t.orders, "l_orderkey", "o_orderkey")
                    .group_by([col("l_shipmode")])
                    .agg([high.clone().sum().alias("high_line_count"), high.not().sum().alias("low_line_count")]),
                &["l_shipmode"],
                &[false],
            )
        }
        13 => {
            let o = t.orders.filter(col("o_comment").str().contains(lit("special.*requests"), true).not());
            let a = join(t.customer, o, &["c_custkey"], &["o_custkey"], JoinType::Left);
            sort(
                a.group_by([col("c_custkey")])
                    .agg([col("o_orderkey").count().alias("c_count")])
                    .group_by([col("c_count")])
                    .agg([pl::len().alias("custdist")]),
                &["custdist", "c_count"],
                &[true, true],
            )
        }
        14 => {
            let volume = rev().cast(pl::DataType::Float64);
            let promo = when(col("p_type").str().starts_with(lit("PROMO"))).then(volume.clone()).otherwise(lit(0.0));
            inner(t.lineitem.filter(range("l_shipdate", "1995-09-01", "1995-10-01")), t.part, "l_partkey", "p_partkey")
                .select([(lit(100.0) * sql_sum(promo) / sql_sum(volume)).alias("promo_revenue")])
        }
        15 => {
            let revenue = t
                .lineitem
                .filter(range("l_shipdate", "1996-01-01", "1996-04-01"))
                .group_by([col("l_suppkey").alias("supplier_no")])
                .agg([rev().sum().alias("total_revenue")]);
            let best = revenue.filter(col("total_revenue").eq(col("total_revenue").max()));
            sort(
                inner(t.supplier, best, "s_suppkey", "supplier_no")
                    .select(["s_suppkey", "s_name", "s_address", "s_phone", "total_revenue"].map(col)),
                &["s_suppkey"],
                &[false],
            )
        }
        16 => {
            let p = t.part.filter(
                col("p_brand")
                    .neq(lit("Brand#45"))
                    .and(col("p_type").str().starts_with(lit("MEDIUM POLISHED")).not())
                    .and(col("p_size").is_in(ints(&[49, 14, 23, 45, 19, 3, 36, 9]), false)),
            );
            let bad = t.supplier.filter(col("s_comment").str().contains(lit("Customer.*Complaints"), true));
            let a = join(
                inner(p, t.partsupp, "p_partkey", "ps_partkey"),
                bad,
                &["ps_suppkey"],
                &["s_suppkey"],
                JoinType::Anti,
            );
            sort(
                a.group_by([col("p_brand"), col("p_type"), col("p_size")])
                    .agg([col("ps_suppkey").n_unique().alias("supplier_cnt")]),
                &["supplier_cnt", "p_brand", "p_type", "p_size"],
                &[true, false, false, false],
            )
        }
        17 => {
            let p = t.part.filter(col("p_brand").eq(lit("Brand#23")).and(col("p_container").eq(lit("MED BOX"))));
            inner(p, t.lineitem, "p_partkey", "l_partkey")
                .filter(col("l_quantity").lt(lit(0.2) * over(col("l_quantity").mean(), "p_partkey")?))
                .select([(sql_sum(col("l_extendedprice")) / lit(7.0)).alias("avg_yearly")])
        }
        18 => {
            let big = t
                .lineitem
                .group_by([col("l_orderkey")])
                .agg([col("l_quantity").sum().alias("sum_qty")])
                .filter(col("sum_qty").gt(dec(30000)));
            sort(
                inner(inner(t.orders, big, "o_orderkey", "l_orderkey"), t.customer, "o_custkey", "c_custkey").select([
                    col("c_name"),
                    col("o_custkey").alias("c_custkey"),
                    col("o_orderkey"),
                    col("o_orderdate"),
                    col("o_totalprice"),
                    col("sum_qty"),
                ]),
                &["o_totalprice", "o_orderdate"],
                &[true, false],
            )
            .limit(100)
        }
        19 => {
            let case = |brand: &str, containers: &[&str], qty: i64, max_size: i32| {
                col("p_brand")
                    .eq(lit(brand))
                    .and(col("p_container").is_in(strs(containers), false))
                    .and(col("l_quantity").is_between(dec(qty * 100), dec((qty + 10) * 100), ClosedInterval::Both))
                    .and(col("p_size").is_between(lit(1), lit(max_size), ClosedInterval::Both))
            };
            let l = t.lineitem.filter(
                col("l_shipmode")
                    .is_in(strs(&["AIR", "AIR REG"]), false)
                    .and(col("l_shipinstruct").eq(lit("DELIVER IN PERSON"))),
            );
            inner(l, t.part, "l_partkey", "p_partkey")
                .filter(
                    case("Brand#12", &["SM CASE", "SM BOX", "SM PACK", "SM PKG"], 1, 5)
                        .or(case("Brand#23", &["MED BAG", "MED BOX", "MED PKG", "MED PACK"], 10, 10))
                        .or(case("Brand#34", &["LG CASE", "LG BOX", "LG PACK", "LG PKG"], 20, 15)),
                )
                .select([sql_sum(rev()).alias("revenue")])
        }
        20 => {
            let forest = t.part.filter(col("p_name").str().starts_with(lit("forest")));
            let shipped = join(
                t.lineitem.filter(range("l_shipdate", "1994-01-01", "1995-01-01")),
                forest,
                &["l_partkey"],
                &["p_partkey"],
                JoinType::Semi,
            )
            .group_by([col("l_partkey"), col("l_suppkey")])
            .agg([(lit(0.5) * col("l_quantity").sum().cast(pl::DataType::Float64)).alias("half_qty")]);
            let excess =
                join(t.partsupp, shipped, &["ps_partkey", "ps_suppkey"], &["l_partkey", "l_suppkey"], JoinType::Inner)
                    .filter(col("ps_availqty").cast(pl::DataType::Float64).gt(col("half_qty")));
            let canada =
                inner(t.nation.filter(col("n_name").eq(lit("CANADA"))), t.supplier, "n_nationkey", "s_nationkey");
            sort(
                join(canada, excess, &["s_suppkey"], &["ps_suppkey"], JoinType::Semi)
                    .select([col("s_name"), col("s_address")]),
                &["s_name"],
                &[false],
            )
        }
        21 => {
            let late = t.lineitem.clone().filter(col("l_receiptdate").gt(col("l_commitdate")));
            let saudi =
                inner(t.nation.filter(col("n_name").eq(lit("SAUDI ARABIA"))), t.supplier, "n_nationkey", "s_nationkey");
            let l1 = inner(
                inner(saudi, late, "s_suppkey", "l_suppkey"),
                t.orders.filter(col("o_orderstatus").eq(lit("F"))),
                "l_orderkey",
                "o_orderkey",
            );
            let keys = l1.clone().select([col("l_orderkey")]).unique(None, pl::UniqueKeepStrategy::Any);
            let lines = join(t.lineitem, keys, &["l_orderkey"], &["l_orderkey"], JoinType::Semi);
            let multi_supp = lines
                .clone()
                .group_by([col("l_orderkey")])
                .agg([col("l_suppkey").n_unique().alias("n")])
                .filter(col("n").gt(lit(1)));
            let one_late = lines
                .filter(col("l_receiptdate").gt(col("l_commitdate")))
                .group_by([col("l_orderkey")])
                .agg([col("l_suppkey").n_unique().alias("n")])
                .filter(col("n").eq(lit(1)));
            let a = join(
                join(l1, multi_supp, &["l_orderkey"], &["l_orderkey"], JoinType::Semi),
                one_late,
                &["l_orderkey"],
                &["l_orderkey"],
                JoinType::Semi,
            );
            sort(a.group_by([col("s_name")]).agg([pl::len().alias("numwait")]), &["numwait", "s_name"], &[true, false])
                .limit(100)
        }
        22 => {
            let cust = t
                .customer
                .with_columns([col("c_phone").str().slice(lit(0), lit(2)).alias("cntrycode")])
                .filter(col("cntrycode").is_in(strs(&["13", "31", "23", "29", "30", "18", "17"]), false));
            let avg = col("c_acctbal").filter(col("c_acctbal").gt(dec(0))).mean();
            sort(
                join(cust.filter(col("c_acctbal").gt(avg)), t.orders, &["c_custkey"], &["o_custkey"], JoinType::Anti)
                    .group_by([col("cntrycode")])
                    .agg([pl::len().alias("numcust"), col("c_acctbal").sum().alias("totacctbal")]),
                &["cntrycode"],
                &[false],
            )
        }
        _ => return Err(Error::InvalidArgument(format!("TPC-H has queries 1 to 22, not {q}"))),
    })
}

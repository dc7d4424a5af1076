//! Common subexpressions: the parts of several expressions that compute the same thing, taken
//! out to be evaluated once. TPC-H Q1 sums `l_extendedprice * (1 - l_discount)` and
//! `l_extendedprice * (1 - l_discount) * (1 + l_tax)`; with the first product evaluated once per
//! chunk and read by both, the group-by does two decimal operations fewer per row.
//!
//! What is shared is decided by structure (`==` on the trees), largest first: once a subtree is
//! taken out, the copies inside it no longer count, so `1 - l_discount` above stays where it is.
//! Only subtrees that read columns are taken out (a constant costs nothing to evaluate), and a
//! bare column or alias never is.
use super::Expr;

/// Expressions with their shared subexpressions taken out as temporary columns.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Shared {
    /// Each temporary column's name and definition, in an order that evaluates every temporary
    /// after the ones its definition reads.
    pub temps: Vec<(String, Expr)>,
    /// The expressions, rewritten to read the temporaries.
    pub exprs: Vec<Expr>,
}

/// The name of temporary column `i`: not a name a user's frame can hold by accident.
fn temp_name(i: usize) -> String {
    format!("\u{1}cse{i}")
}

/// `exprs` with every subexpression that occurs more than once among them (and the definitions
/// already taken out) replaced by a temporary column (the unit tests below show Q1's case).
pub(crate) fn shared(exprs: &[Expr]) -> Shared {
    let mut exprs = exprs.to_vec();
    let mut temps: Vec<(String, Expr)> = Vec::new();
    loop {
        let mut nodes: Vec<&Expr> = Vec::new();
        for e in exprs.iter().chain(temps.iter().map(|(_, d)| d)) {
            collect(e, &mut nodes);
        }
        // The largest subtree occurring twice (the first such in traversal order on ties).
        let mut best: Option<(&Expr, usize)> = None;
        for (i, &n) in nodes.iter().enumerate() {
            let size = size(n);
            if best.is_some_and(|(_, s)| s >= size) || nodes[..i].contains(&n) {
                continue;
            }
            if nodes[i + 1..].contains(&n) {
                best = Some((n, size));
            }
        }
        let Some((found, _)) = best else { break };
        let found = found.clone();
        let name = temp_name(temps.len());
        let column = Expr::Column(name.clone());
        exprs = exprs.into_iter().map(|e| replace(e, &found, &column)).collect();
        for (_, d) in &mut temps {
            *d = replace(d.clone(), &found, &column);
        }
        temps.push((name, found));
    }
    Shared { temps: in_dependency_order(temps), exprs }
}

/// The subtrees of `e` that may be taken out, in pre-order.
fn collect<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
    if !matches!(e, Expr::Column(_) | Expr::Literal(_) | Expr::Alias(..)) && e.references_columns() {
        out.push(e);
    }
    for c in e.children() {
        collect(c, out);
    }
}

/// The number of nodes of `e`.
fn size(e: &Expr) -> usize {
    1 + e.children().into_iter().map(size).sum::<usize>()
}

/// `e` with every occurrence of `what` replaced by `with`.
fn replace(e: Expr, what: &Expr, with: &Expr) -> Expr {
    if &e == what {
        return with.clone();
    }
    // Infallible: the closure never fails.
    e.try_map_children(|c| Ok(replace(c, what, with))).unwrap_or_else(|_| unreachable!())
}

/// `temps` ordered so that each comes after the temporaries its definition reads (found
/// largest first, a later one usually sits inside an earlier one's definition).
fn in_dependency_order(mut temps: Vec<(String, Expr)>) -> Vec<(String, Expr)> {
    let mut out: Vec<(String, Expr)> = Vec::with_capacity(temps.len());
    while !temps.is_empty() {
        let ready = temps
            .iter()
            .position(|(_, d)| {
                d.column_names().iter().all(|c| !c.starts_with('\u{1}') || out.iter().any(|(n, _)| n == c))
            })
            // A cycle cannot happen (a definition reads only strictly smaller temporaries).
            .unwrap_or(0);
        out.push(temps.remove(ready));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{col, lit};

    #[test]
    fn q1_products_share_one_temporary() {
        let disc = col("price") * (lit(1) - col("disc"));
        let charge = disc.clone() * (lit(1) + col("tax"));
        let s = shared(&[col("qty"), disc.clone(), charge]);
        assert_eq!(s.temps, vec![(temp_name(0), disc)]);
        let t = Expr::Column(temp_name(0));
        assert_eq!(s.exprs, vec![col("qty"), t.clone(), t * (lit(1) + col("tax"))]);
    }

    #[test]
    fn nested_shares_are_ordered_by_dependency() {
        // `a + b` is shared by both, and `(a + b) * c` by the first two: the larger first,
        // then the smaller inside its definition, evaluated before it.
        let ab = col("a") + col("b");
        let abc = ab.clone() * col("c");
        let s = shared(&[abc.clone() - lit(1), abc.clone() + lit(2), ab.clone() / col("d")]);
        assert_eq!(s.temps.len(), 2);
        assert_eq!(s.temps[0].1, ab);
        assert_eq!(s.temps[1].1, Expr::Column(s.temps[0].0.clone()) * col("c"));
        assert_eq!(s.exprs[2], Expr::Column(s.temps[0].0.clone()) / col("d"));
    }

    #[test]
    fn nothing_shared_changes_nothing() {
        let exprs = [col("a") + lit(1), col("b") * col("a"), col("a"), lit(3) * lit(4)];
        assert_eq!(shared(&exprs), Shared { temps: vec![], exprs: exprs.to_vec() });
        // A repeated column or constant is not worth a temporary.
        let exprs = [col("a"), col("a"), lit(2) + lit(2), lit(2) + lit(2)];
        assert!(shared(&exprs).temps.is_empty());
    }
}

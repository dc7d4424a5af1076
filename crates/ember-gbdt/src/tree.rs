//! One regression tree in xgboost's array layout (what its JSON stores): node 0 is the root, a
//! leaf has `left == -1` and its value in `cond`; an internal node sends `x < cond` left, a
//! missing value to `default_left`'s side.

/// A tree.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tree {
    /// Left child per node, -1 for a leaf.
    pub left: Vec<i32>,
    /// Right child per node, -1 for a leaf.
    pub right: Vec<i32>,
    /// Parent per node (`i32::MAX` for the root, as xgboost writes it).
    pub parent: Vec<i32>,
    /// Split feature (0 for a leaf).
    pub feature: Vec<u32>,
    /// Split threshold, or the leaf value.
    pub cond: Vec<f32>,
    /// Where a missing value goes.
    pub default_left: Vec<bool>,
    /// Loss reduction of the split (0 for a leaf).
    pub loss_change: Vec<f32>,
    /// Hessian sum of the node's rows (the "cover").
    pub sum_hessian: Vec<f32>,
    /// The node's weight (eta applied), as xgboost's `base_weights`.
    pub base_weight: Vec<f32>,
}

impl Tree {
    /// Nodes.
    pub fn len(&self) -> usize {
        self.left.len()
    }

    /// Whether the tree has no node (never true for a trained tree).
    pub fn is_empty(&self) -> bool {
        self.left.is_empty()
    }

    /// Whether node `n` is a leaf.
    #[inline]
    pub fn is_leaf(&self, n: usize) -> bool {
        self.left[n] < 0
    }

    /// Appends a node and returns its id.
    pub(crate) fn push(&mut self, parent: i32, sum_hessian: f32, base_weight: f32) -> usize {
        self.left.push(-1);
        self.right.push(-1);
        self.parent.push(parent);
        self.feature.push(0);
        self.cond.push(base_weight);
        self.default_left.push(false);
        self.loss_change.push(0.0);
        self.sum_hessian.push(sum_hessian);
        self.base_weight.push(base_weight);
        self.left.len() - 1
    }

    /// The leaf value for one row of features.
    #[inline]
    pub fn predict_row(&self, x: &[f32]) -> f32 {
        let mut n = 0usize;
        while self.left[n] >= 0 {
            let v = x[self.feature[n] as usize];
            let go_left = if v.is_nan() { self.default_left[n] } else { v < self.cond[n] };
            n = if go_left { self.left[n] } else { self.right[n] } as usize;
        }
        self.cond[n]
    }

    /// Checks the structure (children in range, each node reached once, features in range), so
    /// an imported tree can be walked without bounds surprises.
    pub(crate) fn validate(&self, num_features: usize) -> Result<(), String> {
        let n = self.len();
        if n == 0 {
            return Err("a tree with no nodes".into());
        }
        let lens = [
            self.right.len(),
            self.parent.len(),
            self.feature.len(),
            self.cond.len(),
            self.default_left.len(),
            self.loss_change.len(),
            self.sum_hessian.len(),
            self.base_weight.len(),
        ];
        if lens.iter().any(|l| *l != n) {
            return Err("node arrays of different lengths".into());
        }
        let mut seen = vec![false; n];
        let mut stack = vec![0usize];
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                return Err(format!("node {i} is reached twice"));
            }
            let (l, r) = (self.left[i], self.right[i]);
            if (l < 0) != (r < 0) {
                return Err(format!("node {i} has one child"));
            }
            if l >= 0 {
                if l as usize >= n || r as usize >= n {
                    return Err(format!("node {i} has a child out of range"));
                }
                if self.feature[i] as usize >= num_features {
                    return Err(format!("node {i} splits on feature {} of {num_features}", self.feature[i]));
                }
                stack.push(l as usize);
                stack.push(r as usize);
            }
        }
        Ok(())
    }
}

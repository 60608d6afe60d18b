//! The SiLU-gated feed-forward network (SwiGLU): `down(silu(gate(x)) · up(x))`. It is the
//! dense feed-forward layer of every supported architecture and each expert of a mixture.

use crate::error::Result;
use crate::ops::silu_mul;
use crate::weights::{Matrix, WeightSource};

/// A SwiGLU MLP: gate and up `[intermediate, hidden]`, down `[hidden, intermediate]`, no biases.
pub(super) struct Mlp {
    gate: Matrix,
    up: Matrix,
    down: Matrix,
}

impl Mlp {
    /// An MLP from its three projections.
    pub fn new(gate: Matrix, up: Matrix, down: Matrix) -> Mlp {
        Mlp { gate, up, down }
    }

    /// The dense MLP `{prefix}.{gate,up,down}_proj.weight`.
    pub fn load(src: &dyn WeightSource, prefix: &str, intermediate: usize, hidden: usize) -> Result<Mlp> {
        Ok(Mlp::new(
            src.matrix(&format!("{prefix}.gate_proj.weight"), intermediate, hidden)?,
            src.matrix(&format!("{prefix}.up_proj.weight"), intermediate, hidden)?,
            src.matrix(&format!("{prefix}.down_proj.weight"), hidden, intermediate)?,
        ))
    }

    /// `out[n × hidden] = down(silu(gate(x)) · up(x))` for `x` `[n × hidden]`. Gate and up
    /// share one quantisation of `x` on 4-bit weights.
    pub fn forward(&self, x: &[f32], n: usize, out: &mut [f32]) {
        let intermediate = self.gate.rows;
        let mut gate = vec![0f32; n * intermediate];
        let mut up = vec![0f32; n * intermediate];
        let mut acts = None;
        self.gate.forward_shared(x, n, &mut gate, &mut acts);
        self.up.forward_shared(x, n, &mut up, &mut acts);
        silu_mul(&mut gate, &up);
        self.down.forward(&gate, n, out);
    }
}

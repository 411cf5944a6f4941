//! The few protobuf messages of ONNX (`onnx.proto`, IR version 8) that an exported model
//! needs, written by hand: a message is its fields in order, each a key (`field << 3 | wire
//! type`) then a varint (0), a length and bytes (2) or 4 little-endian bytes (5). Field
//! numbers are onnx.proto's.

/// A protobuf message being written.
#[derive(Default, Clone)]
pub(crate) struct Msg(pub Vec<u8>);

impl Msg {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn key(&mut self, field: u32, wire: u8) {
        self.varint(u64::from(field) << 3 | u64::from(wire));
    }

    /// An integer field (int32/int64/enum; negative values as 10-byte two's complement).
    pub fn int(mut self, field: u32, v: i64) -> Msg {
        self.key(field, 0);
        self.varint(v as u64);
        self
    }

    /// A bytes, string or embedded-message field.
    pub fn bytes(mut self, field: u32, b: &[u8]) -> Msg {
        self.key(field, 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }

    pub fn str(self, field: u32, s: &str) -> Msg {
        self.bytes(field, s.as_bytes())
    }

    pub fn msg(self, field: u32, m: &Msg) -> Msg {
        self.bytes(field, &m.0)
    }

    /// A float field.
    pub fn float(mut self, field: u32, v: f32) -> Msg {
        self.key(field, 5);
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
}

/// `TensorProto` of float32 values: dims (1), data_type FLOAT = 1 (2), name (8), raw_data (9).
pub(crate) fn tensor(name: &str, dims: &[usize], values: &[f32]) -> Msg {
    let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    dims.iter()
        .fold(Msg::default(), |m, &d| m.int(1, d as i64))
        .int(2, 1)
        .str(8, name)
        .bytes(9, &raw)
}

/// `TensorProto` of int64 values (data_type INT64 = 7), one axis.
pub(crate) fn tensor_i64(name: &str, values: &[i64]) -> Msg {
    let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    Msg::default()
        .int(1, values.len() as i64)
        .int(2, 7)
        .str(8, name)
        .bytes(9, &raw)
}

/// An attribute of a node (`AttributeProto`: name 1, f 2, i 3, s 4, ints 8, strings 9, type 20).
pub(crate) enum Attr {
    Int(i64),
    Ints(Vec<i64>),
    Float(f32),
    Str(&'static str),
    Strs(Vec<&'static str>),
}

/// `NodeProto`: input (1), output (2), name (3), op_type (4), attribute (5).
pub(crate) fn node(
    op: &str,
    name: &str,
    inputs: &[&str],
    outputs: &[&str],
    attrs: &[(&str, Attr)],
) -> Msg {
    let mut m = Msg::default();
    for i in inputs {
        m = m.str(1, i);
    }
    for o in outputs {
        m = m.str(2, o);
    }
    m = m.str(3, name).str(4, op);
    for (a, v) in attrs {
        let attr = Msg::default().str(1, a);
        let attr = match v {
            Attr::Int(i) => attr.int(3, *i).int(20, 2),
            Attr::Ints(is) => is.iter().fold(attr, |m, &i| m.int(8, i)).int(20, 7),
            Attr::Float(f) => attr.float(2, *f).int(20, 1),
            Attr::Str(v) => attr.str(4, v).int(20, 3),
            Attr::Strs(ss) => ss.iter().fold(attr, |m, s| m.str(9, s)).int(20, 8),
        };
        m = m.msg(5, &attr);
    }
    m
}

/// `ValueInfoProto` of a float32 tensor `[batch, dims..]` with a symbolic batch axis:
/// name (1), type (2) = TypeProto { tensor_type (1) { elem_type (1), shape (2) { dim (1)
/// { dim_value (1) | dim_param (2) } } } }.
pub(crate) fn value_info(name: &str, dims: &[usize]) -> Msg {
    let shape = dims.iter().fold(
        Msg::default().msg(1, &Msg::default().str(2, "batch")),
        |m, &d| m.msg(1, &Msg::default().int(1, d as i64)),
    );
    let tensor_type = Msg::default().int(1, 1).msg(2, &shape);
    Msg::default()
        .str(1, name)
        .msg(2, &Msg::default().msg(1, &tensor_type))
}

/// `ModelProto`: ir_version (1) 8, producer_name (2), producer_version (3), graph (7),
/// opset_import (8) { domain (1) "", version (2) 17 }; the graph (`GraphProto`): node (1),
/// name (2), initializer (5), input (11), output (12).
pub(crate) fn model(
    nodes: &[Msg],
    initializers: &[Msg],
    inputs: &[Msg],
    outputs: &[Msg],
) -> Vec<u8> {
    let mut g = Msg::default();
    for n in nodes {
        g = g.msg(1, n);
    }
    g = g.str(2, "nabla");
    for t in initializers {
        g = g.msg(5, t);
    }
    for i in inputs {
        g = g.msg(11, i);
    }
    for o in outputs {
        g = g.msg(12, o);
    }
    Msg::default()
        .int(1, 8)
        .str(2, "nabla")
        .str(3, env!("CARGO_PKG_VERSION"))
        .msg(7, &g)
        .msg(8, &Msg::default().str(1, "").int(2, 17))
        .0
}

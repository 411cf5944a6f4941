//! Dotted paths into a spec: `"train.optimizer.learning_rate"`, `"model.layers.1.units"`
//! (a number indexes a list). A missing key is added; an optimiser, loss or layer given by
//! name alone (`optimizer = "adam"`) becomes a table (`{ type = "adam", .. }`) when a path
//! goes inside it.

use crate::error::{Error, Result};
use toml::{Table, Value};

/// Sets `path` in `spec`, where parts that are numbers index lists.
pub fn set_path(spec: &mut Table, path: &str, value: Value) -> Result<()> {
    let parts: Vec<&str> = path.split('.').collect();
    let bad = |walked: &str, expected: &str, got: String| {
        Error::config(
            format!("tune.space path \"{path}\" at \"{walked}\""),
            expected,
            got,
        )
    };
    if parts.iter().any(|p| p.is_empty()) || parts.len() < 2 {
        return Err(Error::config(
            format!("tune.space path \"{path}\""),
            "a dotted path into the spec, like \"train.optimizer.learning_rate\"",
            "too few parts",
        ));
    }
    let mut cur: &mut Value = spec
        .entry(parts[0].to_string())
        .or_insert_with(|| Value::Table(Table::new()));
    let mut walked = parts[0].to_string();
    for part in &parts[1..] {
        if let Value::String(name) = cur {
            let mut t = Table::new();
            t.insert("type".into(), Value::String(name.clone()));
            *cur = Value::Table(t);
        }
        cur = match cur {
            Value::Array(items) => {
                let n = items.len();
                let i = part
                    .parse::<usize>()
                    .ok()
                    .filter(|&i| i < n)
                    .ok_or_else(|| {
                        bad(
                            &walked,
                            &format!("an index below {n}"),
                            format!("\"{part}\""),
                        )
                    })?;
                &mut items[i]
            }
            Value::Table(t) => t
                .entry(part.to_string())
                .or_insert_with(|| Value::Table(Table::new())),
            other => return Err(bad(&walked, "a table, a list or a name", other.to_string())),
        };
        walked = format!("{walked}.{part}");
    }
    *cur = value;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Table {
        toml::from_str(
            r#"
[model]
layers = [{ type = "flatten" }, { type = "dense", units = 128 }]
[train]
optimizer = "adam"
epochs = 5
"#,
        )
        .unwrap()
    }

    #[test]
    fn paths_reach_tables_lists_and_named_entries() {
        let mut s = spec();
        set_path(&mut s, "model.layers.1.units", Value::Integer(64)).unwrap();
        set_path(&mut s, "train.optimizer.learning_rate", Value::Float(0.01)).unwrap();
        set_path(&mut s, "train.epochs", Value::Integer(2)).unwrap();
        assert_eq!(s["model"]["layers"][1]["units"].as_integer(), Some(64));
        assert_eq!(s["train"]["optimizer"]["type"].as_str(), Some("adam"));
        assert_eq!(
            s["train"]["optimizer"]["learning_rate"].as_float(),
            Some(0.01)
        );
        assert_eq!(s["train"]["epochs"].as_integer(), Some(2));
    }

    #[test]
    fn bad_paths_name_where_they_fail() {
        let mut s = spec();
        let e = set_path(&mut s, "model.layers.7.units", Value::Integer(1)).unwrap_err();
        assert!(
            e.to_string()
                .contains("at \"model.layers\": expected an index below 2, received \"7\""),
            "{e}"
        );
        let e = set_path(&mut s, "train.epochs.x", Value::Integer(1)).unwrap_err();
        assert!(e.to_string().contains("at \"train.epochs\""), "{e}");
        assert!(set_path(&mut s, "train..x", Value::Integer(1)).is_err());
    }
}

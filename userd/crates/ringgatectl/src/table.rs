//! Tables for people and for `awk`: every cell is one token (a missing
//! value is `-`, a state is one word), and columns are padded to the widest
//! cell, so `awk '{print $3}'` reads the same column on every line.

/// A table under construction: a header and rows of the same width.
pub(crate) struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(header: &[&str]) -> Table {
        Table {
            rows: vec![header.iter().map(|h| h.to_string()).collect()],
        }
    }

    /// Appends a row; a cell with whitespace in it, or an empty one, would
    /// shift the columns a script reads, so each becomes one token.
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(
            cells.len(),
            self.rows[0].len(),
            "a row as wide as the header"
        );
        let cells = cells
            .into_iter()
            .map(|cell| {
                if cell.is_empty() {
                    "-".to_string()
                } else {
                    cell.split_whitespace().collect::<Vec<_>>().join("_")
                }
            })
            .collect();
        self.rows.push(cells);
    }

    /// The text, each column as wide as its widest cell plus two spaces.
    pub(crate) fn render(&self) -> String {
        let columns = self.rows[0].len();
        let widths: Vec<usize> = (0..columns)
            .map(|c| self.rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c + 1 == columns {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<width$}  ", width = widths[c]));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Asserts that every line of `text` has as many whitespace-separated
/// fields as its first (for the tests of each listing).
#[cfg(test)]
pub(crate) fn assert_awk_columns(text: &str) -> usize {
    let mut lines = text.lines();
    let width = lines.next().expect("a header").split_whitespace().count();
    for line in lines {
        assert_eq!(
            line.split_whitespace().count(),
            width,
            "line {line:?} of\n{text}"
        );
    }
    width
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_never_split_or_vanish() {
        let mut t = Table::new(&["a", "b", "c"]);
        t.row(vec!["this node".into(), String::new(), "x".into()]);
        let text = t.render();
        assert_eq!(assert_awk_columns(&text), 3);
        assert_eq!(text.lines().nth(1), Some("this_node  -  x"));
    }
}

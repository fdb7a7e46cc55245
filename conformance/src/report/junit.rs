//! The report as JUnit XML: one `testsuite` per RFC section, one `testcase` per check; failures
//! carry the reason and the exchanges, skips their reason.

use super::by_section;
use crate::model::{Report, Totals, Verdict};

/// Escapes text for XML attributes and content.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// The report as a JUnit XML document.
pub fn render(report: &Report) -> String {
    let t = report.totals;
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    s.push_str(&format!(
        "<testsuites name=\"scim-conformance\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">\n",
        t.total(),
        t.fail,
        t.skip
    ));
    for (section, outcomes) in by_section(report) {
        let st = Totals::of(outcomes.iter().copied());
        s.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">\n",
            escape(&section),
            st.total(),
            st.fail,
            st.skip
        ));
        for o in outcomes {
            s.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{} [{}]\"",
                escape(&section),
                escape(&o.check.id),
                o.check.level
            ));
            match o.verdict {
                Verdict::Pass => s.push_str("/>\n"),
                Verdict::Skip => s.push_str(&format!(
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                    escape(&o.reason)
                )),
                Verdict::Fail => {
                    let detail: Vec<String> = o.exchanges.iter().map(|e| e.detail()).collect();
                    s.push_str(&format!(
                        ">\n      <failure type=\"{}\" message=\"{}\">{}\n\n{}</failure>\n    </testcase>\n",
                        o.check.level,
                        escape(&o.reason),
                        escape(&o.check.title),
                        escape(&detail.join("\n\n"))
                    ));
                }
            }
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_is_escaped() {
        assert_eq!(escape("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;");
    }
}

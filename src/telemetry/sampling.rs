//! The sampling decision, taken once where a trace starts (a request, a
//! chore's round), before any span is made.
//!
//! The SDK's own sampler decides when a span starts, which is after the
//! `tracing` span has been built and handed to the OpenTelemetry layer: at 1 %
//! that cost every request about 5 µs for spans thrown away (poll 0.82 ×
//! throughput, loadtest/RESULTS.md). Decided here first, an unsampled request
//! makes no span at all, and the spans of its statements and Lua calls are
//! turned away by the layer's filter for want of a trace to belong to. The
//! SDK is then told to keep what it is handed (`sdk_sampler`), so the two
//! never disagree.
//!
//! `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` mean what the
//! specification says: `parentbased_*` follow a caller's decision, and a
//! ratio keeps a trace by its id, as every other service of the trace does.

use opentelemetry::trace::{TraceContextExt, TraceId};
use opentelemetry::Context;
use opentelemetry_sdk::trace::Sampler;

/// How a trace that starts here is decided.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Root {
    Always,
    Never,
    /// Kept when the trace id's low 63 bits fall under this bound (the
    /// ratio of 2^63), as the SDK's `TraceIdRatioBased` does.
    Ratio(u64),
}

/// `OTEL_TRACES_SAMPLER` (and its `_ARG`), parsed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct HeadSampler {
    /// A caller's `traceparent` decides for its trace.
    parent_based: bool,
    root: Root,
}

impl HeadSampler {
    /// The sampler the variables name; the specification's default
    /// (`parentbased_always_on`) for one this does not know, said on stderr.
    pub(crate) fn from_env() -> Self {
        let name = std::env::var("OTEL_TRACES_SAMPLER").ok();
        let arg = std::env::var("OTEL_TRACES_SAMPLER_ARG").ok();
        Self::parse(name.as_deref(), arg.as_deref()).unwrap_or_else(|| {
            eprintln!("boxoffice: OTEL_TRACES_SAMPLER={name:?} is not one this service knows; parentbased_always_on");
            Self::parse(None, None).unwrap_or(HeadSampler {
                parent_based: true,
                root: Root::Always,
            })
        })
    }

    fn parse(name: Option<&str>, arg: Option<&str>) -> Option<Self> {
        // A ratio missing or unreadable is 1, as the specification says.
        let ratio = arg
            .and_then(|arg| arg.trim().parse::<f64>().ok())
            .filter(|ratio| ratio.is_finite())
            .map_or(1.0, |ratio| ratio.clamp(0.0, 1.0));
        let by_ratio = Root::Ratio((ratio * (1u64 << 63) as f64) as u64);
        let (parent_based, root) = match name.map(str::trim).unwrap_or("parentbased_always_on") {
            "always_on" => (false, Root::Always),
            "always_off" => (false, Root::Never),
            "traceidratio" => (false, by_ratio),
            "" | "parentbased_always_on" => (true, Root::Always),
            "parentbased_always_off" => (true, Root::Never),
            "parentbased_traceidratio" => (true, by_ratio),
            _ => return None,
        };
        Some(HeadSampler { parent_based, root })
    }

    /// Whether the trace that `caller` (the context of a `traceparent`, or an
    /// empty one) carries on here is kept.
    pub(crate) fn keeps(&self, caller: &Context) -> bool {
        let span = caller.span();
        let parent = span.span_context();
        if parent.is_valid() && self.parent_based {
            return parent.is_sampled();
        }
        match self.root {
            Root::Always => true,
            Root::Never => false,
            // The caller's trace id decides as it does in every service of
            // the trace; a new trace's is random, as its id will be.
            Root::Ratio(bound) => {
                let low = if parent.is_valid() {
                    low_bits(parent.trace_id())
                } else {
                    rand::random::<u64>()
                };
                low >> 1 < bound
            }
        }
    }

    /// What the SDK is told: keep every span it is handed (each belongs to
    /// a trace kept here), and, for the `parentbased_*` samplers, follow a
    /// remote parent as this did.
    pub(crate) fn sdk_sampler(&self) -> Sampler {
        if self.parent_based {
            Sampler::ParentBased(Box::new(Sampler::AlwaysOn))
        } else {
            Sampler::AlwaysOn
        }
    }
}

fn low_bits(trace_id: TraceId) -> u64 {
    let bytes = trace_id.to_bytes();
    let mut low = [0u8; 8];
    low.copy_from_slice(&bytes[8..]);
    u64::from_be_bytes(low)
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceState};

    use super::*;

    fn caller(trace: u128, sampled: bool) -> Context {
        let flags = if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        let span = SpanContext::new(
            TraceId::from(trace),
            SpanId::from(7u64),
            flags,
            true,
            TraceState::default(),
        );
        Context::new().with_remote_span_context(span)
    }

    fn sampler(name: &str, arg: Option<&str>) -> HeadSampler {
        HeadSampler::parse(Some(name), arg).unwrap_or_else(|| panic!("{name} parses"))
    }

    #[test]
    fn the_parent_based_samplers_follow_the_callers_decision() {
        for name in [
            "parentbased_always_on",
            "parentbased_always_off",
            "parentbased_traceidratio",
        ] {
            let sampler = sampler(name, Some("0.5"));
            assert!(sampler.keeps(&caller(1, true)), "{name}");
            assert!(!sampler.keeps(&caller(1, false)), "{name}");
        }
        assert!(sampler("parentbased_always_on", None).keeps(&Context::new()));
        assert!(!sampler("parentbased_always_off", None).keeps(&Context::new()));
    }

    #[test]
    fn the_other_samplers_decide_for_themselves() {
        assert!(sampler("always_on", None).keeps(&caller(1, false)));
        assert!(!sampler("always_off", None).keeps(&caller(1, true)));
        // By the caller's trace id: low bits 0 are kept at any ratio above
        // 0, all ones at none below 1 (a trace id of all zeros is no trace).
        let half = sampler("traceidratio", Some("0.5"));
        assert!(half.keeps(&caller(1 << 64, false)));
        assert!(!half.keeps(&caller(u128::from(u64::MAX), true)));
        assert!(sampler("traceidratio", Some("1")).keeps(&caller(u128::from(u64::MAX), false)));
    }

    #[test]
    fn a_ratio_keeps_about_its_share_of_new_traces() {
        let tenth = sampler("parentbased_traceidratio", Some("0.1"));
        let kept = (0..20_000).filter(|_| tenth.keeps(&Context::new())).count();
        // 2,000 expected; the standard deviation is about 42.
        assert!((1_700..=2_300).contains(&kept), "{kept}");
        let none = sampler("parentbased_traceidratio", Some("0"));
        assert!(!(0..1_000).any(|_| none.keeps(&Context::new())));
    }

    #[test]
    fn names_and_ratios_are_read_as_the_specification_says() {
        assert_eq!(
            HeadSampler::parse(None, None),
            HeadSampler::parse(Some("parentbased_always_on"), None)
        );
        assert_eq!(HeadSampler::parse(Some("jaeger_remote"), None), None);
        // A ratio unreadable is 1; one outside 0..=1 is clamped.
        for arg in [None, Some("x"), Some("NaN"), Some("7")] {
            assert_eq!(
                sampler("traceidratio", arg),
                sampler("traceidratio", Some("1")),
                "{arg:?}"
            );
        }
        assert_eq!(sampler("traceidratio", Some("-1")), sampler("traceidratio", Some("0")));
    }
}

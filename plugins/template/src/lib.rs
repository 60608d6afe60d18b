//! The declarative template principle. All the logic lives in
//! [`clinalign_sdk::template`], so the host can run the very same code natively.

use clinalign_sdk::template::Template;
use clinalign_sdk::{EmitError, Principle, Query, RubricItem, export_principle};

struct TemplatePrinciple(Template);

impl Principle for TemplatePrinciple {
    fn init(config: &str) -> Result<Self, String> {
        Template::from_json(config).map(TemplatePrinciple)
    }

    fn emit(&self, query: &Query) -> Result<Vec<RubricItem>, EmitError> {
        self.0.evaluate(query)
    }
}

export_principle!(TemplatePrinciple);

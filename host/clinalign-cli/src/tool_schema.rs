//! `clinalign tool-schema NAME`: one of the engine's tools as an OpenAI function-calling
//! schema, for agent frameworks; `clinalign serve` executes it at the route it names.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;

#[derive(Args, Debug)]
#[command(
    after_help = "Tools: revise (executed by POST /v1/revise: post the call's `arguments` object as the body).\n\
Example:\n  clinalign tool-schema revise > revise.json\n\
GET /v1/tools on a running server lists every tool with its route."
)]
pub struct ToolSchemaArgs {
    /// The tool: revise.
    pub name: String,
}

pub fn run(args: ToolSchemaArgs) -> Result<ExitCode> {
    let Some(schema) = clinalign_server::tool_schema::tool(&args.name) else {
        let names: Vec<&str> = clinalign_server::tool_schema::tools().iter().map(|(n, _, _)| *n).collect();
        bail!("no tool named {:?}; the tools are: {}", args.name, names.join(", "));
    };
    println!("{}", serde_json::to_string_pretty(&schema)?);
    Ok(ExitCode::SUCCESS)
}

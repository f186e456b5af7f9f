"""What N feedback items a month cost on AWS, from the bench's measured counts and an editable price table.

`tools.bench` measures, per 1,000 items, every AWS request the product makes on the way from a form POST to
the nightly export (and the DynamoDB capacity units, Comprehend units and bytes stored behind them);
`tools.bench.cost_inputs.measured_counts` turns a run into the flat mapping of `model.MEASURED_KEYS` this
package prices. Unit prices, their date and the assumptions the bench cannot measure (volume, retention, AWS
call latency, cold starts …) live in one TOML file, `tools/unit_prices.toml`, that a user edits (`prices`).
Everything here is pure arithmetic on those two inputs: `units` sizes DynamoDB items and Comprehend
documents, `model.usage_lines` says what is used in a month and from which measured counts,
`model.price_lines` prices it, `markdown.render` writes the table `make bench` prints and puts in
BENCHMARKS.md. `model.compare_setups` prices the same counts for the three setups of the analyze step
(Comprehend only, Comprehend + Bedrock themes, Bedrock only) and `markdown.render_setups` sets them side by
side.
"""

// Package rules ships the default rule pack: the moments CX teams ask for
// most, one YAML file per rule, loaded with adapters.LoadRuleFiles.
package rules

import "embed"

// Default holds the default pack as default/*.yaml.
//
//go:embed default/*.yaml
var Default embed.FS

// DefaultDir is the directory of Default that holds the rule files.
const DefaultDir = "default"

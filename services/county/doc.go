// Package county is the home of the county's rules that more than one
// service applies: the working-day calendar, the directory of offices, who
// may see and do what (policy), the rule sets of each jurisdiction, resource
// names and a case's version. Each fact has one function here and every
// service calls it; nothing in these packages talks to a database or a
// network. The state machine of a case lives with its owner, in
// services/assignment/lifecycle.
package county

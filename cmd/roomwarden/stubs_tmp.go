package main

import "io"

// Temporary until the helpers land their files; deleted by the integrator.
func runDaemon(args []string, stdout, stderr io.Writer) int { return 2 }
func runCheck(args []string, stdout, stderr io.Writer) int  { return 2 }
func runTest(args []string, stdout, stderr io.Writer) int   { return 2 }

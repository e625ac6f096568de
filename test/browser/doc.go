// Package browser holds the web console's browser tests: they drive
// Debian's chromium (chromedp) against real kscope processes. A module of
// its own, so that kscope's go.mod stays free of the browser driver.
package browser

package main

import (
	"net/url"

	"github.com/spf13/cobra"

	"kscope/internal/table"
	"kscope/internal/view"
)

func transactionsCmd() *cobra.Command {
	var f view.TransactionsFilter
	cmd := viewCmd(&cobra.Command{
		Use:   "transactions",
		Short: "Show transactional producers: transactions begun, committed, aborted, open, and how long each stayed open",
		Long: `Show, per transactional id and producer process, the transactions (KIP-98)
begun, committed, aborted, failed (EndTxn answered with an error, as when the
broker aborted the transaction at its timeout) and still open, the records
committed and aborted, and how long transactions stay open; then each
transaction, from its first AddPartitionsToTxn or Produce request (KIP-890
producers add partitions with Produce) to its EndTxn response. A
transaction open longer than the producer's transaction.timeout.ms (from
its InitProducerId) is a finding: the broker aborts it, and read_committed
consumers of its partitions wait on it until then.

From a running agent (--server) or from capture files (--pcap).`,
		Example: `  kscope transactions --since 15m
  kscope transactions --transactional-id ledger-writer -o json
  kscope transactions --pcap testdata/captures/transactions.pcap`,
	}, "default all the agent holds, or the whole capture", "/api/v1/transactions",
		func() view.Needs { return view.TransactionsNeeds },
		func() url.Values { return url.Values{"transactional_id": {f.TransactionalID}, "client": {f.Client}} },
		func(in view.Input) view.TransactionsView { return view.Transactions(in, f) }, table.Transactions)
	cmd.Flags().StringVar(&f.TransactionalID, "transactional-id", "", "only this transactional id")
	cmd.Flags().StringVar(&f.Client, "client", "", "only this producer (process name, pid, client id, or PROCESS column)")
	return cmd
}

package server

import (
	"net/http"
	"net/url"

	"kscope/internal/view"
)

// transactionRoutes serves the transactions view.
func (s *Server) transactionRoutes(mux *http.ServeMux) {
	// GET /api/v1/transactions?transactional_id=&client=&since=&until=.
	mux.Handle("GET /api/v1/transactions", s.auth(s.traffic(viewHandler(s, 0, fixed(view.TransactionsNeeds),
		func(in view.Input, q url.Values) view.TransactionsView {
			return view.Transactions(in, view.TransactionsFilter{TransactionalID: q.Get("transactional_id"), Client: q.Get("client")})
		}))))
}

package adapters

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// firings counts firings once carried out (a retried firing counts when it
// finally succeeds, a duplicate not at all).
var firings = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "bazgasht_trigger_firings_total",
	Help: "Rule firings carried out, by rule, outcome (acted or suppressed) and the reason a suppressed one was held back.",
}, []string{"rule", "outcome", "reason"})

// RegisterMetrics adds the trigger's series to the service's registry.
func RegisterMetrics(reg prometheus.Registerer) error {
	if err := reg.Register(firings); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return err
		}
	}
	return nil
}

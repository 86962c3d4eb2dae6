package compiler

import (
	"testing"

	"github.com/pipec/pipec/model"
)

func TestWorstCasePods(t *testing.T) {
	tests := []struct {
		name string
		dep  model.Deployment
		want int64
	}{
		{"rolling default 25% of 4", model.Deployment{Replicas: 4, Strategy: model.Strategy{Rolling: &model.Rolling{}}}, 5},
		{"rolling 25% of 6 rounds up", model.Deployment{Replicas: 6, Strategy: model.Strategy{Rolling: &model.Rolling{MaxSurge: "25%"}}}, 8},
		{"rolling absolute surge", model.Deployment{Replicas: 3, Strategy: model.Strategy{Rolling: &model.Rolling{MaxSurge: "2"}}}, 5},
		{"rolling zero surge", model.Deployment{Replicas: 3, Strategy: model.Strategy{Rolling: &model.Rolling{MaxSurge: "0"}}}, 3},
		{"canary", model.Deployment{Replicas: 4, Strategy: model.Strategy{Canary: &model.Canary{MaxSurge: "50%"}}}, 6},
		{"blue-green runs two sets", model.Deployment{Replicas: 4, Strategy: model.Strategy{BlueGreen: &model.BlueGreen{}}}, 8},
		{"zero replicas", model.Deployment{Replicas: 0, Strategy: model.Strategy{Rolling: &model.Rolling{}}}, 0},
	}
	for _, tt := range tests {
		if got := worstCasePods(&tt.dep, tt.dep.Replicas); got != tt.want {
			t.Errorf("%s: worstCasePods = %d, want %d", tt.name, got, tt.want)
		}
	}
}

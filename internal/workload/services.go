package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/go-zookeeper/zk"
)

// serviceInstance is a registration as Curator's service discovery writes it.
type serviceInstance struct {
	Name                string          `json:"name"`
	ID                  string          `json:"id"`
	Address             string          `json:"address"`
	Port                int             `json:"port"`
	SSLPort             *int            `json:"sslPort"`
	Payload             instancePayload `json:"payload"`
	RegistrationTimeUTC int64           `json:"registrationTimeUTC"`
	ServiceType         string          `json:"serviceType"`
	URISpec             uriSpec         `json:"uriSpec"`
}

type instancePayload struct {
	Class   string `json:"@class"`
	Version string `json:"version"`
	Zone    string `json:"zone"`
	Weight  int    `json:"weight"`
}

type uriSpec struct {
	Parts []uriPart `json:"parts"`
}

type uriPart struct {
	Value    string `json:"value"`
	Variable bool   `json:"variable"`
}

// instanceData draws an instance's registration (about 350 bytes).
func instanceData(r *rand.Rand, svc, id string, host int, at int64) []byte {
	return mustJSON(serviceInstance{
		Name: svc, ID: id, Address: fmt.Sprintf("10.0.3.%d", host+1), Port: 8000 + int(nameHash(id)%1000),
		Payload: instancePayload{Class: "com.example.discovery.InstanceDetails",
			Version: fmt.Sprintf("1.%d.%d", r.IntN(20), r.IntN(100)), Zone: []string{"a", "b", "c"}[r.IntN(3)], Weight: 1 + r.IntN(100)},
		RegistrationTimeUTC: at, ServiceType: "DYNAMIC",
		URISpec: uriSpec{Parts: []uriPart{{Value: "scheme", Variable: true}, {Value: "://"}, {Value: "address", Variable: true},
			{Value: ":"}, {Value: "port", Variable: true}}},
	})
}

func (w *Workload) execServiceRegister(ctx context.Context, op *Op) error {
	r := rand.New(rand.NewPCG(op.a.seed, 6))
	a := op.a
	return w.createEphemeral(ctx, op, w.hosts[a.host], op.Path, instanceData(r, a.service, a.instance, a.host, a.at))
}

func (w *Workload) execServiceDeregister(ctx context.Context, op *Op) error {
	return w.remove(ctx, op, w.hosts[op.a.host], op.Path)
}

// execServiceUpdate writes an instance's new details; an instance whose
// registration is gone (its session expired) registers again, as Curator
// does.
func (w *Workload) execServiceUpdate(ctx context.Context, op *Op) error {
	r := rand.New(rand.NewPCG(op.a.seed, 6))
	a := op.a
	data := instanceData(r, a.service, a.instance, a.host, a.at)
	err := w.set(ctx, op, w.hosts[a.host], op.Path, data, -1)
	if errors.Is(err, zk.ErrNoNode) {
		return w.createEphemeral(ctx, op, w.hosts[a.host], op.Path, data)
	}
	return err
}

// execServiceHostRestart closes a host's session (its instances' ephemerals
// go) and opens another, on which the host registers them again.
func (w *Workload) execServiceHostRestart(ctx context.Context, op *Op) error {
	a := op.a
	s := w.hosts[a.host]
	if err := s.restart(ctx); err != nil {
		return w.opErr(op, op.Path, err)
	}
	r := rand.New(rand.NewPCG(a.seed, 6))
	for _, in := range a.instances {
		p := w.p("/services/" + in.service + "/" + in.id)
		if err := w.createEphemeral(ctx, op, s, p, instanceData(r, in.service, in.id, a.host, a.at)); err != nil {
			return err
		}
	}
	return nil
}

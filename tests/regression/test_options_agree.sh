#!/usr/bin/env bash
# One object, one set of options: every key of `analyze` and `transport` that changes a number is accepted by `run`
# (a study of the same image, `run -i`) and gives the same number there, because both commands read it through the
# same set_from_options (the descriptor settings, the transport solver, the image reader). The truth for each row is the
# single command on the same file, at the same rank count: the same code path, so the numbers agree to rounding
# (1e-12 relative). Each row also checks that the key changes the number it names (against the command's default), so
# a key that were silently ignored by both would still fail.
source "$(dirname "$0")/common.sh"

run 1 generate -model chi2 -model_alpha 20 -model_volume_fraction 0.5 -grid_size 24,22,20 -voxel_size 0.01 -seed 5 \
  -o img.h5 || { fail "generate"; cat run.log; finish; }

# key | extra arguments | single command | value in its JSON | value in the study table
cat > table.txt <<'EOF'
default|  |analyze|phases.solid.r_50|phases.solid.r_50
default|  |analyze|phases.pore.r_min.z|phases.pore.r_min_z
default|  |analyze|phases.solid.specific_surface_area|phases.solid.specific_surface_area
default|  |analyze|phases.pore.geodesic_tortuosity.mean|phases.pore.geodesic_tortuosity_mean
-cpsd_dr|-cpsd_dr 0.004|analyze|phases.solid.r_50|phases.solid.r_50
-mip_faces|-mip_faces x+,y+,z+|analyze|phases.pore.r_min.z|phases.pore.r_min_z
-descriptors|-descriptors surface_area,cpsd_2d|analyze|phases.solid.cpsd.slices.z.r_50|phases.solid.r_50_2d_z
-tortuosity_bins|-tortuosity_bins 7|analyze|phases.pore.geodesic_tortuosity.mean|phases.pore.geodesic_tortuosity_mean
-connectivity|-connectivity 6|analyze|phases.pore.geodesic_tortuosity.mean|phases.pore.geodesic_tortuosity_mean
-connectivity|-connectivity 18|analyze|phases.pore.geodesic_tortuosity.mean|phases.pore.geodesic_tortuosity_mean
-analyze_periodic|-analyze_periodic false|analyze|phases.solid.specific_surface_area|phases.solid.specific_surface_area
-voxel_size|-voxel_size 0.02|analyze|phases.solid.specific_surface_area|phases.solid.specific_surface_area
-crop|-crop 2:20,0:22,3:17|analyze|phases.solid.specific_surface_area|phases.solid.specific_surface_area
default|  |transport|directions.z.D_eff_over_D|transport.solid.z.M
default|  |transport|directions.z.iterations|transport.solid.z.iterations
-transport_method|-transport_method fv|transport|directions.z.D_eff_over_D|transport.solid.z.M
-transport_pc_matrix|-transport_pc_matrix stiffness|transport|directions.z.iterations|transport.solid.z.iterations
-transport_conductivities|-transport_conductivities solid:2,pore:0.5|transport|directions.z.D_eff_over_D|transport.solid.z.M
-transport_ksp_rtol|-transport_ksp_rtol 1e-3|transport|directions.z.iterations|transport.solid.z.iterations
-transport_m_rtol|-transport_m_rtol 1e-2|transport|directions.z.iterations|transport.solid.z.iterations
-transport_pc_type|-transport_pc_type gamg|transport|directions.z.D_eff_over_D|transport.solid.z.M
-transport_direction|-transport_direction x|transport|directions.x.D_eff_over_D|transport.solid.x.M
EOF

i=0
while IFS='|' read -r key args cmd jkey skey <&3; do
  i=$((i + 1))
  if [ "$cmd" = analyze ]; then
    run 2 analyze -i img.h5 $args -o "a$i.json" || { fail "analyze $key"; cat run.log; continue; }
    run 2 run -i img.h5 $args -transport_phases none -o "s$i" || { fail "run $key (analyze keys)"; cat run.log; continue; }
  else
    dir="-transport_direction z"
    case "$args" in *-transport_direction*) dir="" ;; esac
    run 2 transport -i img.h5 -phase solid $dir $args -o "a$i.json" || { fail "transport $key"; cat run.log; continue; }
    run 2 run -i img.h5 -descriptors none -transport_phases solid $dir $args -o "s$i" ||
      { fail "run $key (transport keys)"; cat run.log; continue; }
  fi
  echo "$i|$key|$cmd|$jkey|$skey" >> done.txt
done 3< table.txt

"$SM_PYTHON" - <<'EOF'
import json, math

def get(d, path):
    for p in path.split("."):
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d

errors, defaults = [], {}
for line in open("done.txt"):
    i, key, cmd, jkey, skey = line.strip().split("|")
    single = get(json.load(open("a%s.json" % i)), jkey)
    study = json.load(open("s%s/study.json" % i))["tasks"][0]["results"].get(skey)
    if single is None or study is None:
        errors.append("%s: %s missing (single %r, study %r)" % (key, jkey, single, study))
        continue
    if not (isinstance(single, (int, float)) and math.isfinite(single)):
        errors.append("%s: %s is not a number (%r)" % (key, jkey, single))
        continue
    if abs(single - study) > 1e-12 * max(abs(single), 1e-300):
        errors.append("%s: %s %r by %s, %r by run" % (key, jkey, single, cmd, study))
    if key == "default":
        defaults[(cmd, jkey)] = single
    elif key != "-tortuosity_bins" and defaults.get((cmd, jkey)) == single:
        errors.append("%s: %s is the default's value %r: the key changed nothing" % (key, jkey, single))
    print("%-26s %-40s %.12g" % (key, jkey, single))
# -descriptors surface_area,cpsd_2d: run records what was asked for, and nothing of what was not
n = [l.split("|")[0] for l in open("table.txt")].index("-descriptors") + 1
r = json.load(open("s%d/study.json" % n))["tasks"][0]["results"]
if any(k.endswith("constrictivity_mean") or k.endswith("M_predicted") for k in r):
    errors.append("-descriptors surface_area,cpsd_2d: run recorded descriptors that were not asked for")
for e in errors:
    print("FAIL:", e)
raise SystemExit(1 if errors else 0)
EOF
[ $? -eq 0 ] && ok || fail "the table"
[ "$(wc -l < done.txt)" -eq "$(wc -l < table.txt)" ] && ok || fail "every row ran"

# a restart with another value of a key that changes a number is refused: the study records the key
n=$(grep -n '^-transport_ksp_rtol|' table.txt | cut -d: -f1)
run 2 run -i img.h5 -descriptors none -transport_phases solid -transport_direction z -transport_ksp_rtol 1e-6 -o "s$n" -restart
if [ $? -ne 0 ] && grep -q "stochmorph error" run.log; then ok; else fail "restart with another -transport_ksp_rtol accepted"; cat run.log; fi
finish

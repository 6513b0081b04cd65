set terminal svg size 800,500 dynamic enhanced font 'sans,12' background rgb 'white'
set output 'docs/bench-h200-2026-12-02.svg'
set title "mpsmig bench on NVIDIA H200 (whole GPU)\n400 kernels of 8x128 threads a client, 1000000 cycles each"
set xlabel 'clients at once (N)'
set ylabel 'kernels per second, all clients'
set key top left
set grid
set logscale x 2
set xtics ('1' 1, '2' 2, '4' 4, '8' 8, '16' 16, '32' 32)
$data << EOD
1 1972.037 1973.486 1972.037
2 3941.663 2222.895 3944.073
4 7856.732 2225.347 7888.146
8 15698.356 2224.839 15776.292
16 31318.662 2224.192 31552.584
32 55975.616 2221.784 63105.169
EOD
plot $data using 1:4 with lines dashtype 2 linewidth 2 title 'N x one client alone', \
     $data using 1:2 with linespoints linewidth 2 pointtype 7 title 'through MPS', \
     $data using 1:3 with linespoints linewidth 2 pointtype 5 title 'time-sliced (no MPS)'

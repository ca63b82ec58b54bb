/// <reference lib="dom" />
// A uPlot chart as a preact component: created once, fed new data on every render.

import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface ChartSeries {
  label: string;
  color: string;
  /** Own y scale (e.g. a rate beside a cumulative total). */
  scale?: string;
}

export function Chart(props: {
  id: string;
  title: string;
  series: ChartSeries[];
  data: uPlot.AlignedData;
  height?: number;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    const el = box.current!;
    const scales = [...new Set(props.series.map((s) => s.scale ?? 'y'))];
    plot.current = new uPlot(
      {
        title: props.title,
        width: Math.max(300, el.clientWidth),
        height: props.height ?? 220,
        series: [
          {},
          ...props.series.map((s) => ({
            label: s.label,
            stroke: s.color,
            width: 2,
            scale: s.scale ?? 'y',
            points: { show: false },
          })),
        ],
        axes: [{}, ...scales.map((scale, i) => ({ scale, side: i === 0 ? 3 : 1, grid: { show: i === 0 }, size: 70 }))],
        legend: { live: false },
      },
      props.data,
      el,
    );
    const resize = () => plot.current?.setSize({ width: Math.max(300, el.clientWidth), height: props.height ?? 220 });
    window.addEventListener('resize', resize);
    return () => {
      window.removeEventListener('resize', resize);
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);
  useEffect(() => {
    plot.current?.setData(props.data);
  }, [props.data]);
  return html`<div class="chart" id=${props.id} data-points=${props.data[0]?.length ?? 0} ref=${box}></div>`;
}

/**
 * SVG charts for benchmark reports, drawn by Vega-Lite (no DOM, no canvas:
 * Vega renders SVG text directly).
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';

export interface BarDatum {
  /** Category on the x axis (a message size, a benchmark name). */
  x: string;
  /** Which bar of the group (a mode, a reference). */
  series: string;
  value: number;
}

export interface BarChartOptions {
  title: string;
  xTitle: string;
  yTitle: string;
  /** Log scale for values that span orders of magnitude. */
  logScale?: boolean;
}

/** A grouped bar chart as an SVG document. */
export async function groupedBarChart(data: BarDatum[], opts: BarChartOptions): Promise<string> {
  const order = [...new Set(data.map((d) => d.x))];
  const floor = 10 ** Math.floor(Math.log10(Math.min(...data.map((d) => d.value).filter((v) => v > 0), 1)));
  const spec: vl.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: opts.title,
    width: { step: 18 },
    height: 260,
    data: { values: data },
    mark: 'bar',
    encoding: {
      column: { field: 'x', type: 'ordinal', sort: order, title: opts.xTitle, header: { labelOrient: 'bottom', titleOrient: 'bottom' } },
      x: { field: 'series', type: 'nominal', axis: null },
      y: {
        field: 'value',
        type: 'quantitative',
        title: opts.yTitle,
        scale: opts.logScale ? { type: 'log', domainMin: floor } : {},
      },
      // A bar on a log scale has no zero to start from: it starts at the floor.
      ...(opts.logScale ? { y2: { datum: floor } } : {}),
      color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'top' } },
      tooltip: [{ field: 'series' }, { field: 'value', format: ',.1f' }],
    },
    config: { view: { stroke: null }, background: 'white' },
  };
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}
